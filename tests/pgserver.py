"""A throwaway PostgreSQL cluster on loopback for tests: initdb into a temp dir, one postmaster
in the foreground (our child, started and stopped by tests/procs.py like Dovecot), trust auth
on 127.0.0.1.

No pytest dependency, so scripts and benchmarks can use the same server. The Debian package
`postgresql` provides the binaries (.ci/install installs it).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from procs import ManagedProcess, ProcessStartError, killpg, pid_alive, start_process, tail
from servers import HOST, free_port

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
TMP_PREFIX = "mailproc-pg-"
OWNER_FILE = "owner.pid"  # pid of the process that started the cluster, for stale clean-up


class PostgresError(RuntimeError):
    pass


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_pg_bin() -> Path | None:
    """The bin directory holding initdb, pg_ctl and postgres: the newest Debian
    /usr/lib/postgresql/N/bin, else wherever PATH has pg_ctl."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return Path(d)
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        d = Path(pg_ctl).resolve().parent
        if (d / "initdb").exists() and (d / "postgres").exists():
            return d
    return None


def _postmaster_pid(datadir: Path) -> int | None:
    try:
        return int((datadir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def remove_stale_clusters(tmp_root: str | None = None) -> None:
    """Kill and delete clusters left by test processes that died without stopping them
    (SIGKILL, OOM): their postmaster normally went down with them (PDEATHSIG), but the
    directory stays behind. Only dirs whose owner process is gone are touched."""
    root = Path(tmp_root or tempfile.gettempdir())
    for d in root.glob(TMP_PREFIX + "*"):
        try:
            owner = int((d / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if owner == os.getpid() or pid_alive(owner):
            continue
        pid = _postmaster_pid(d / "data")
        if pid is not None and pid_alive(pid):
            try:
                # Make sure it is a postgres of that cluster before signalling it.
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                cmdline = b""
            if b"postgres" in cmdline and str(d).encode() in cmdline:
                killpg(pid, signal.SIGKILL)
        shutil.rmtree(d, ignore_errors=True)


class PostgresServer:
    """A private PostgreSQL cluster; `url` names a database created in it.

    As root the cluster runs as the `postgres` system user (initdb refuses root) in a temp dir
    of its own under /tmp, outside pytest's basetemp (pytest resets that to 0700, which the
    postgres user could then no longer reach).
    """

    host: str = HOST
    user: str = "postgres"  # the superuser role initdb creates

    def __init__(self, dbname: str = "mailproc_test", tmp_root: str | None = None) -> None:
        self.dbname = dbname
        self.tmp_root = tmp_root
        self.port = 0
        self.workdir: Path | None = None
        self.bindir: Path | None = None
        self._proc: ManagedProcess | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.running

    @property
    def datadir(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "postgres.log"

    @property
    def url(self) -> str:
        return self.url_for(self.dbname)

    def url_for(self, dbname: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def start(self) -> None:
        if self.running:
            return
        bindir = find_pg_bin()
        if bindir is None:
            raise PostgresError(
                "PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin):"
                " run .ci/install"
            )
        self.bindir = bindir
        remove_stale_clusters(self.tmp_root)
        self.workdir = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self.tmp_root))
        atexit.register(self.stop)  # scripts that forget stop() leave nothing behind
        try:
            self._setup()
        except BaseException:
            self.stop()  # removes the half-made cluster too
            raise

    def _setup(self) -> None:
        assert self.workdir is not None
        (self.workdir / OWNER_FILE).write_text(str(os.getpid()))
        run_as = self._run_as()
        if run_as is not None:
            shutil.chown(self.workdir, run_as.pw_uid, run_as.pw_gid)
        self.workdir.chmod(0o700)
        self._initdb()
        # free_port() can race with another process taking the port before the postmaster
        # binds it: retry with a fresh port when that is the failure.
        for attempt in range(3):
            self.port = free_port()
            try:
                self._spawn()
                break
            except PostgresError as exc:
                if attempt == 2 or "could not bind" not in str(exc).lower():
                    raise
        self.create_database(self.dbname)

    def stop(self) -> None:
        """Stop the cluster (immediate shutdown) and delete its files; safe to call twice."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None:
            # SIGQUIT via pg_ctl; backends share the postmaster's process group, which
            # proc.stop() waits to empty.
            proc.stop(shutdown=self._pg_ctl_stop)
        workdir, self.workdir = self.workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def halt(self, mode: str = "fast") -> None:
        """Stop the postmaster and keep the cluster: its data, port and databases come back
        with `resume()`. "fast" (what a service restart does) ends every session and writes
        what was committed; "immediate" is a crash, and with this cluster's
        synchronous_commit = off it may lose the last commits."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.stop(shutdown=lambda: self._pg_ctl_stop(mode))

    def resume(self) -> None:
        """Start the cluster `halt()` stopped, on the same port and data directory."""
        if self.running:
            return
        if self.workdir is None:
            raise PostgresError("resume() needs a cluster that start() made and halt() kept")
        self._spawn()

    def _pg_ctl_stop(self, mode: str = "immediate") -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._run(["pg_ctl", "stop", "-D", str(self.datadir), "-m", mode,
                       "-w", "-t", str(int(STOP_TIMEOUT))], check=False,
                      timeout=STOP_TIMEOUT + 5)

    # ---- databases -------------------------------------------------------------------------

    def create_database(self, dbname: str | None = None) -> str:
        """Create a database (a fresh uniquely named one by default); returns its URL."""
        dbname = dbname or f"t_{uuid.uuid4().hex[:12]}"
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", dbname):
            raise ValueError(f"not a plain database name: {dbname!r}")
        self._run(["createdb", "-h", self.host, "-p", str(self.port), "-U", self.user,
                   "-E", "UTF8", "-T", "template0", dbname], as_cluster_user=False)
        return self.url_for(dbname)

    def drop_database(self, dbname: str) -> None:
        self._run(["dropdb", "-h", self.host, "-p", str(self.port), "-U", self.user,
                   "--if-exists", "--force", dbname], as_cluster_user=False)

    def psql(self, sql: str, dbname: str | None = None) -> str:
        """Run `sql` with psql; returns its unaligned, tuples-only output."""
        out = self._run(["psql", "-h", self.host, "-p", str(self.port), "-U", self.user,
                         "-d", dbname or self.dbname, "-X", "-q", "-A", "-t",
                         "-v", "ON_ERROR_STOP=1", "-c", sql], as_cluster_user=False)
        return out.stdout.decode("utf-8", "replace").strip()

    # ---- internals -------------------------------------------------------------------------

    def _run_as(self) -> pwd.struct_passwd | None:
        """The account the cluster runs as: `postgres` when we are root, else ourselves."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresError(
                "running as root but there is no `postgres` system user (initdb refuses to "
                "run as root): run .ci/install"
            ) from None

    def _child_kwargs(self, as_cluster_user: bool = True) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"env": {**os.environ, "LC_ALL": "C", "PGTZ": "UTC"}}
        kwargs["env"].pop("PGDATA", None)
        run_as = self._run_as() if as_cluster_user else None
        if run_as is not None:
            kwargs.update(user=run_as.pw_uid, group=run_as.pw_gid, extra_groups=[],
                          cwd=str(self.workdir))
            kwargs["env"].update(HOME=str(self.workdir), USER=run_as.pw_name,
                                 LOGNAME=run_as.pw_name)
        return kwargs

    def _run(self, argv: list[str], *, check: bool = True, as_cluster_user: bool = True,
             timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        assert self.bindir is not None
        argv = [str(self.bindir / argv[0]), *argv[1:]]
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=timeout, **self._child_kwargs(as_cluster_user))
        if check and result.returncode != 0:
            raise PostgresError(
                f"{' '.join(argv)} exited with code {result.returncode}:\n"
                f"{(result.stdout + result.stderr).decode('utf-8', 'replace')[-3000:]}"
            )
        return result

    def _initdb(self) -> None:
        self._run(["initdb", "-D", str(self.datadir), "-U", self.user, "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync"], timeout=120)

    def _spawn(self) -> None:
        assert self.workdir is not None and self.bindir is not None
        sockets = self.workdir / "run"
        sockets.mkdir(exist_ok=True)
        run_as = self._run_as()
        if run_as is not None:
            shutil.chown(sockets, run_as.pw_uid, run_as.pw_gid)
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(sockets),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "16MB",
            "max_connections": "50",
            "dynamic_shared_memory_type": "posix",
            "timezone": "UTC",
            "log_timezone": "UTC",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        argv = [str(self.bindir / "postgres"), "-D", str(self.datadir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        try:
            # SIGQUIT (immediate shutdown, children included) if the test process dies.
            self._proc = start_process(argv, output=self.log_file, append=True,
                                       ready=self._ready, start_timeout=START_TIMEOUT,
                                       stop_timeout=STOP_TIMEOUT, death_signal=signal.SIGQUIT,
                                       **self._child_kwargs())
        except ProcessStartError as exc:
            raise PostgresError(
                f"postgres {exc.why} (data {self.datadir}, port {self.port}).\n"
                f"--- log ---\n{tail(self.log_file, log_start)}"
            ) from None

    def _ready(self) -> bool:
        # pg_isready exits 0 only once the server accepts connections (not while starting up).
        result = self._run(["pg_isready", "-q", "-h", self.host, "-p", str(self.port),
                            "-U", self.user, "-d", "postgres", "-t", "1"],
                           check=False, as_cluster_user=False, timeout=10)
        return result.returncode == 0


def start_for_tests(request: Any) -> PostgresServer:
    """A started private cluster for a pytest fixture (`request`), stopped at its end even
    when start() fails half-way. Fails, never skips, when PostgreSQL or psycopg2 is missing:
    a skip would hide a missing install step in CI."""
    import pytest

    if find_pg_bin() is None:
        pytest.fail("PostgreSQL is not installed (initdb/pg_ctl): run .ci/install",
                    pytrace=False)
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.fail("psycopg2 is not installed: run .ci/install", pytrace=False)
    server = PostgresServer()
    request.addfinalizer(server.stop)  # registered first: runs even if start() half-fails
    server.start()
    return server
