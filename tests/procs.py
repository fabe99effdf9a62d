"""Start and stop the server processes of the tests' private servers (Dovecot in
tests/servers.py, PostgreSQL in tests/pgserver.py): spawn in a process group of its own, wait
until the server answers, and on stop leave nothing of the group behind, also when the start
fails half-way.

Owns the process lifecycle only; what a server is configured with, and how to ask it whether
it is ready, stays with its module. No pytest dependency, so scripts and benchmarks can use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

POLL_INTERVAL = 0.05  # between readiness checks while a server starts


class ProcessStartError(RuntimeError):
    """The process exited, or did not become ready in time; what it started is stopped.
    `why` says which ("exited with code N" / "not ready in N s")."""

    def __init__(self, why: str, returncode: int | None) -> None:
        super().__init__(why)
        self.why = why
        self.returncode = returncode


def _set_pdeathsig(sig: int) -> None:
    """Runs in the child before exec (after any uid switch, which would clear the setting):
    `sig` to the server if the test process dies, even by SIGKILL.

    Linux only, best effort. It fires when the *thread* that started the server exits, so
    start servers from a long-lived thread (the pytest main thread is).
    """
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass


def pid_alive(pid: int) -> bool:
    """Is process `pid` there and not a zombie (a zombie holds nothing)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # /proc tells a zombie apart where there is one.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def group_alive(pgid: int) -> bool:
    """Is a live (non-zombie) process left in process group `pgid`?

    Orphaned zombies are reaped by init whenever it gets to it; they hold nothing, so they
    do not count. Without /proc, fall back to signal 0, which counts zombies too.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def killpg(pgid: int, sig: int) -> None:
    """Signal the group; nobody left in it (or a member that changed uid) is no error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def tail(path: Path, start: int = 0, lines: int = 30) -> str:
    """The last `lines` lines of `path` from byte `start` on, for an error message."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"({exc})"
    return "\n".join(text.splitlines()[-lines:])


class ManagedProcess:
    """A started server: the leader of its own process group (its children share it)."""

    def __init__(self, popen: subprocess.Popen[bytes], stop_timeout: float) -> None:
        self.popen = popen
        self.stop_timeout = stop_timeout
        self._stopped = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def running(self) -> bool:
        return not self._stopped and self.popen.poll() is None

    def stop(self, shutdown: Callable[[], object] | None = None) -> None:
        """Ask the server to stop (SIGTERM, or `shutdown`, e.g. `pg_ctl stop`), SIGKILL the
        group when it has not exited within `stop_timeout`, then wait for the rest of the group
        and SIGKILL whatever is left. Safe to call more than once; also when `shutdown` raises
        (the group is killed all the same, then the error goes on)."""
        if self._stopped:
            return
        self._stopped = True
        popen = self.popen
        try:
            if popen.poll() is None:
                try:
                    (shutdown or popen.terminate)()
                finally:
                    try:
                        popen.wait(self.stop_timeout)
                    except subprocess.TimeoutExpired:
                        killpg(popen.pid, signal.SIGKILL)
                        popen.wait(self.stop_timeout)
        finally:
            self._empty_group()

    def kill(self) -> None:
        """SIGKILL the whole group at once (a server that never became ready)."""
        if self._stopped:
            return
        self._stopped = True
        killpg(self.popen.pid, signal.SIGKILL)
        try:
            self.popen.wait(self.stop_timeout)
        finally:
            self._empty_group()

    def _empty_group(self) -> None:
        # Children can outlive the leader by a few ms; they share its process group
        # (start_new_session), so wait for the group to empty, then make sure.
        pgid = self.popen.pid
        deadline = time.monotonic() + self.stop_timeout
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
        killpg(pgid, signal.SIGKILL)


def start_process(
    argv: Sequence[str],
    *,
    output: Path,
    ready: Callable[[], bool],
    start_timeout: float,
    stop_timeout: float,
    death_signal: int = signal.SIGTERM,
    append: bool = False,
    **popen_kwargs: Any,
) -> ManagedProcess:
    """Spawn `argv` in a new session (its own process group) with stdout and stderr into
    `output` (truncated, or appended to with `append`), and wait until `ready()` says it
    answers. `death_signal` reaches the server if the test process dies.

    When it exits first, is not ready within `start_timeout`, or `ready()` raises, the group
    is killed before ProcessStartError (or the error of `ready()`) is raised: a failed start
    leaves nothing running. `popen_kwargs` go to Popen (env, user, group, cwd ...).
    """
    with open(output, "ab" if append else "wb") as out:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # own process group, so stop() can reap every child
            preexec_fn=functools.partial(_set_pdeathsig, death_signal),
            **popen_kwargs,
        )
    proc = ManagedProcess(popen, stop_timeout)
    try:
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            if popen.poll() is not None:
                break
            if ready():
                return proc
            time.sleep(POLL_INTERVAL)
    except BaseException:
        proc.kill()
        raise
    rc = popen.poll()
    proc.kill()
    why = f"exited with code {rc}" if rc is not None else f"not ready in {start_timeout:.0f} s"
    raise ProcessStartError(why, rc)
