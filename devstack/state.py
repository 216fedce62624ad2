"""Where the local stack keeps its state: ``.devstack/`` (or ``DEVSTACK_DIR``), its env.json and its run lock.

The run lock is an ``flock`` on ``run.lock`` holding the owner's pid and API URL.
The kernel drops the lock when its process dies, however it dies, so a lock file
left behind by a killed stack never blocks the next one.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_JSON = "env.json"
RUN_LOCK = "run.lock"


def state_dir(environ: dict[str, str] | None = None) -> Path:
    """``DEVSTACK_DIR`` if set (tests, a second checkout), else ``.devstack/`` at the repo root."""
    environ = os.environ if environ is None else environ
    configured = environ.get("DEVSTACK_DIR")
    return Path(configured).resolve() if configured else REPO_ROOT / ".devstack"


def write_env(directory: Path, env: dict[str, Any]) -> Path:
    """Write env.json atomically, so a reader never sees half of it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ENV_JSON
    partial = path.with_name(f".{ENV_JSON}.{os.getpid()}")
    partial.write_text(json.dumps(env, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path


def read_env(directory: Path) -> dict[str, Any] | None:
    """The running stack's env.json, or None when there is none."""
    try:
        return json.loads((directory / ENV_JSON).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Holder:
    """Who holds the run lock, as far as its lock file says."""

    pid: int | None
    api_url: str | None


class RunLock:
    """One local stack per state directory."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / RUN_LOCK
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock and write our pid in it; False when another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            # A stopping stack unlinks the file before it lets go: make sure we locked the one at the path.
            try:
                current = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                self._fd = fd
                self.describe(None)
                return True
            os.close(fd)

    def describe(self, api_url: str | None) -> None:
        """Record our pid (and API URL once known) for a second ``make run`` to show."""
        assert self._fd is not None, "acquire() first"
        text = f"{os.getpid()}\n{api_url or ''}\n".encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, text, 0)

    def holder(self) -> Holder:
        """What the holder wrote in the lock file (it may be mid-write: then fields are None)."""
        try:
            lines = self.path.read_text().splitlines()
        except OSError:
            lines = []
        pid = int(lines[0]) if lines and lines[0].isdigit() else None
        api_url = lines[1] if len(lines) > 1 and lines[1] else None
        return Holder(pid, api_url)

    def release(self) -> None:
        """Remove the lock file, then let go of the lock."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None
