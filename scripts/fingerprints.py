"""Print the CPU backend's fingerprint (cpu/install.py FUNCTIONS) of OpenRLHF releases, read from their PyPI wheels.

    python scripts/fingerprints.py 0.10.2 0.10.3 0.10.4 0.11.0 0.11.1 0.11.2

Each wheel is fetched with `pip download --no-deps` (no install, nothing imported) and its source read with the
same `version_guard.fingerprint` the guards use at run time. Paste the results into `cpu/install.py`'s TESTED after
checking the backend against each version's changed code.
"""

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from openrlhf_rlev.integrations.openrlhf import version_guard
from openrlhf_rlev.integrations.openrlhf.cpu import install


def openrlhf_root(version: str, folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"openrlhf=={version}", "-d", str(folder)],
        check=True,
    )
    (wheel,) = folder.glob(f"openrlhf-{version}-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder / version)
    (init,) = (folder / version).glob("**/openrlhf/__init__.py")
    return init.parent


def main(versions: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for version in versions:
            root = openrlhf_root(version, Path(tmp))
            print(f"{version}  cpu {version_guard.fingerprint(root, install.FUNCTIONS)}")


if __name__ == "__main__":
    main(sys.argv[1:])
