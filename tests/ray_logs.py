"""What a Ray actor printed, read where it wrote it: its own log files in the Ray session's logs folder.

Ray forwards worker output to the driver asynchronously and best-effort: a driver that exits or calls ray.shutdown()
first may never print a worker's line (CI lost the plain route's warning that way). Each worker's stdout and stderr
are files `<temp dir>/session_*/logs/worker-<worker id>-<job id>-<pid>.out|.err`; once a worker hosts an actor, Ray
writes `:actor_name:<class>` into both (the line its log monitor labels forwarded output with), and what follows is
the actor's. A test gives each Ray cluster its own short temp dir (RAY_TMPDIR, or `ray start --temp-dir`) and reads
the actor's lines here.
"""

import tempfile
import time
from pathlib import Path


def short_temp_dir(prefix: str) -> Path:
    """A fresh folder for one Ray cluster's temp dir: under /tmp, because Ray's socket paths must stay short."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def actor_logs(temp_dir: Path, actor_class: str) -> dict[Path, str]:
    """Each log file (.out and .err) of every worker that hosted an actor of this class, under every Ray session of
    `temp_dir`, with its text from the actor's label on."""
    label = f":actor_name:{actor_class}\n"
    found = {}
    # resolved: session_latest is a link to the newest session, whose files would otherwise come twice
    for path in sorted({p.resolve() for p in Path(temp_dir).glob("**/session_*/logs/worker-*")}):
        if path.suffix in (".out", ".err"):
            text = path.read_text(errors="replace")
            at = text.find(label)
            if at >= 0 and (at == 0 or text[at - 1] == "\n"):
                found[path] = text[at:]
    return found


def all_worker_output(temp_dir: Path) -> str:
    """Everything every worker of every Ray session under `temp_dir` wrote to its .out and .err files: read after the
    cluster has shut down, it holds each worker's lines whether or not Ray forwarded them to the driver."""
    paths = sorted({p.resolve() for p in Path(temp_dir).glob("**/session_*/logs/worker-*")})
    return "".join(p.read_text(errors="replace") for p in paths if p.suffix in (".out", ".err"))


def wait_for_actor_line(temp_dir: Path, actor_class: str, text: str, seconds: float = 60) -> str:
    """The first line of an actor of this class that contains `text`; waits (bounded) for the file system, and
    fails with what the actor's files hold if no such line appears."""
    deadline, logs = time.monotonic() + seconds, {}
    while True:
        logs = actor_logs(temp_dir, actor_class)
        for log in logs.values():
            for line in log.splitlines():
                if text in line:
                    return line
        if time.monotonic() >= deadline:
            shown = "\n".join(f"--- {path}\n{log[-2000:]}" for path, log in logs.items()) or "(no log of that actor)"
            raise AssertionError(f"no line of {actor_class} under {temp_dir} contains {text!r}:\n{shown}")
        time.sleep(0.5)
