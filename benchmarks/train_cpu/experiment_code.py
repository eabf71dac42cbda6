"""The plugin's code that every counted run trained and was evaluated with (PREREG.md, Amendments 2 and 3).

`run.sh` pins it (`EXPERIMENT_CODE`) and refuses to train unless the checkout's `openrlhf_rlev/` holds it (Ray puts
the driver's working directory first on its workers' path, so an export on PYTHONPATH would not reach them);
`analyze.py` re-scores the committed held-out predictions with an export of that commit. So the report is the
experiment's own reward's, whatever `openrlhf_rlev/` on main has become since.
"""

import atexit
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))  # git archive exports from the top of the repository only


def commit() -> str:
    """run.sh's EXPERIMENT_CODE: one place says which code the experiment runs."""
    with open(os.path.join(HERE, "run.sh"), encoding="utf-8") as f:
        found = re.search(r"^EXPERIMENT_CODE=([0-9a-f]{40})$", f.read(), re.M)
    if not found:
        raise SystemExit(f"{os.path.join(HERE, 'run.sh')}: no line EXPERIMENT_CODE=<40 hex digits>")
    return found.group(1)


def put_first() -> str:
    """Export EXPERIMENT_CODE's openrlhf_rlev/ to a temporary folder (removed at exit), put it first on sys.path,
    check that `import openrlhf_rlev` now finds it, and return the folder. Call it before anything imports the
    plugin; the verifier pool's workers follow (they put the imported package's parent first on their path)."""
    if "openrlhf_rlev" in sys.modules:
        raise SystemExit("openrlhf_rlev was imported before the experiment's code could be put first")
    sha = commit()
    archive = subprocess.run(
        ["git", "-C", ROOT, "archive", "--prefix=openrlhf_rlev/", f"{sha}:openrlhf_rlev"], capture_output=True
    )
    if archive.returncode:
        raise SystemExit(f"cannot export the experiment's code ({sha}): {archive.stderr.decode().strip()}")
    dest = tempfile.mkdtemp(prefix="rlev-experiment-code-")
    atexit.register(shutil.rmtree, dest, True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    sys.path.insert(0, dest)
    # The verifier pool's workers (`python -m`, env inherited, PYTHONPATH = the export first) would otherwise put
    # their working directory, the checkout, ahead of it on their path (Python 3.11's -P)
    os.environ["PYTHONSAFEPATH"] = "1"
    import openrlhf_rlev

    if os.path.commonpath([os.path.abspath(openrlhf_rlev.__file__), dest]) != dest:
        raise SystemExit(f"openrlhf_rlev is imported from {openrlhf_rlev.__file__}, not from the export in {dest}")
    return dest
