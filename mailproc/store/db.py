"""Opening the database (SQLite in WAL mode, or PostgreSQL), explaining why it cannot be
used, transactions and savepoints, and the schema: creation and the numbered migrations."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import peewee as pw

from mailproc.errors import ConfigError
from mailproc.store.migrations import LATEST, MIGRATIONS, Migration
from mailproc.store.models import (
    MODELS,
    ChainHead,
    SchemaInfo,
    SchemaMigration,
    StoreError,
    db,
)

SCHEMA_VERSION = LATEST  # the number of the newest migration (store/migrations.py)
# How long SQLite waits for another process's write lock before 'database is locked'.
BUSY_TIMEOUT_SECONDS = 10
GENESIS_HASH = "0" * 64

log = logging.getLogger(__name__)


def open_database(url: str, *, source: str = "database.url") -> pw.Database:
    """Bind the models to the database at `url` (sqlite:///… or postgresql://…) and connect,
    so that a database that cannot be used is one clear error here, naming `source` (the
    setting or environment variable the URL came from), not a traceback later."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        database: pw.Database = pw.SqliteDatabase(
            path,
            pragmas={"journal_mode": "wal", "foreign_keys": 1,
                     "busy_timeout": BUSY_TIMEOUT_SECONDS * 1000, "synchronous": "normal"},
        )
    else:
        # playhouse.db_url loads the extension modules of every database it knows
        from playhouse.db_url import connect

        try:
            database = connect(url)
        except ImportError as exc:
            raise ConfigError(
                f"{source}: PostgreSQL needs the psycopg2 driver: "
                f"pip install 'mailproc[postgres]' ({exc})") from None
    db.initialize(database)
    try:
        database.connect(reuse_if_open=True)
    except pw.ImproperlyConfigured as exc:
        # The driver the URL needs is not installed: a configuration error (exit 2), the same
        # as the ImportError above.
        raise ConfigError(explain_connect_error(url, source, exc)) from None
    except (pw.OperationalError, pw.DatabaseError) as exc:
        raise StoreError(explain_connect_error(url, source, exc)) from None
    return database


def explain_connect_error(url: str, source: str, exc: Exception) -> str:
    """One sentence for a database that refused to open, with what to do."""
    text = " ".join(str(exc).split())
    if isinstance(exc, pw.ImproperlyConfigured):
        return (f"{source}: PostgreSQL needs the psycopg2 driver, which is not installed: "
                "pip install 'mailproc[postgres]'")
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if not path.parent.is_dir():
            return (f"{source}: the folder of the database, {path.parent}, does not exist: "
                    "run `mailproc init` (it creates it) or correct the path")
        if not os.access(path.parent, os.W_OK) or (path.exists()
                                                   and not os.access(path, os.W_OK)):
            return (f"{source}: cannot write the database {path} (permission denied): run "
                    "mailproc as the user that owns it, or fix the permissions")
        return f"{source}: cannot open the SQLite database {path}: {text}"
    parts = urlsplit(url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return (f"{source}: PostgreSQL at {where} refused the login of user "
                f"{parts.username or '(none)'}: check the password (in the URL, PGPASSWORD "
                "or ~/.pgpass) and the user")
    if "does not exist" in lowered and "database" in lowered:
        name = parts.path.lstrip("/")
        return (f"{source}: the database {name!r} does not exist on {where}: create it "
                f"(createdb -O {parts.username or 'USER'} {name}) or correct the URL")
    if "role" in lowered and "does not exist" in lowered:
        return (f"{source}: PostgreSQL at {where} has no user {parts.username!r}: create it "
                "(createuser) or correct the URL")
    for needle, reason in (("connection refused", "connection refused"),
                           ("could not translate host name", "unknown host name"),
                           ("timeout", "no answer"), ("timed out", "no answer"),
                           ("could not connect", "no connection")):
        if needle in lowered:
            return (f"{source}: cannot reach PostgreSQL at {where} ({reason}): is the server "
                    "running, and are the host and port right?")
    return f"{source}: cannot connect to the database at {where}: {text}"


_DISK_FULL = ("database or disk is full", "no space left on device", "disk quota exceeded")


def explain_disk_full(exc: BaseException) -> str | None:
    """One line with what to do when the database refused a write because its disk (or a
    quota) is full; None for any other error. Looks along the exception's chain: SQLite
    rolls the transaction back itself on SQLITE_FULL, so what reaches the caller is often
    "cannot rollback - no transaction is active", raised while handling the real one."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        text = " ".join(str(seen).split())
        if isinstance(seen, pw.DatabaseError) and any(n in text.lower() for n in _DISK_FULL):
            return (f"the database's disk is full ({text}): free space there (`df -h`) and "
                    "run the command again; nothing was lost, unprocessed mail stays in the "
                    "mailbox")
        seen = seen.__cause__ or seen.__context__
    return None


_BUSY = ("database is locked", "database is busy", "database table is locked")
# What psycopg2 says when the server went away, is restarting, or refuses connections.
_GONE = ("server closed the connection", "connection already closed", "terminating connection",
         "connection refused", "could not connect to server", "could not receive data",
         "could not send data", "no connection to the server", "ssl syscall error",
         "the database system is starting up", "the database system is shutting down",
         "the database system is in recovery mode", "the database system is not yet accepting")


def _database_errors(exc: BaseException) -> Iterator[str]:
    """The text of each database error along `exc`'s chain, on one line: a lost connection
    fails the rollback (and the unlock) that follow too, whose errors then hide it."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return
        if isinstance(seen, pw.PeeweeException) or type(seen).__module__.startswith(
                ("psycopg2", "sqlite3")):
            yield " ".join(str(seen).split())
        seen = seen.__cause__ or seen.__context__


def connection_lost(exc: BaseException) -> bool:
    """Did `exc` come from a PostgreSQL connection that is gone (the server restarted,
    stopped, or the network dropped)? Then `drop_connection` before the next try."""
    if db.obj is None or is_sqlite():
        return False
    conn = db.obj._state.conn  # noqa: SLF001 - without connecting, as connection() would
    if conn is not None and getattr(conn, "closed", 0):
        return True  # psycopg2 noticed, whatever the error said
    return any(n in text.lower() for text in _database_errors(exc) for n in _GONE)


def drop_connection() -> None:
    """Forget a connection the server dropped: the next query connects afresh (peewee
    connects on first use), so a long-running `mailproc run` recovers by itself once the
    server is back. Never raises: closing a dead connection may fail."""
    database = db.obj
    if database is None:
        return
    try:
        database.close()
    except Exception:  # noqa: BLE001 - it is being thrown away either way
        database._state.reset()  # noqa: SLF001 - peewee has no public "forget" call


def explain_unavailable(exc: BaseException) -> str | None:
    """One line with what is going on and what to do when the database is there but cannot
    be used now: another process has held SQLite's write lock longer than the busy timeout,
    or the PostgreSQL server is down or restarting. None for any other error."""
    for text in _database_errors(exc):
        lowered = text.lower()
        if is_sqlite() and any(n in lowered for n in _BUSY):
            return (f"the SQLite database is busy: another process has held its write lock "
                    f"for more than {BUSY_TIMEOUT_SECONDS} s ({text}); nothing was lost and "
                    "unprocessed mail stays in the mailbox for the next poll; if this goes "
                    f"on, find that process with `fuser {db.obj.database}` (a backup, a "
                    "script, a sqlite3 shell left in a transaction) and end it")
        if not is_sqlite() and any(n in lowered for n in _GONE):
            params = getattr(db.obj, "connect_params", {})
            where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
            return (f"the database is unavailable: the connection to PostgreSQL at {where} "
                    f"was lost or refused ({text[:200]}); nothing was lost and unprocessed "
                    "mail stays in the mailbox; mailproc reconnects by itself at its next "
                    "cycle: check that PostgreSQL is running if this goes on")
    return None


def is_sqlite() -> bool:
    return isinstance(db.obj, pw.SqliteDatabase)


class _TxState:
    """What one transaction carries besides its SQL: the event chain's head (read, and on
    PostgreSQL locked, at the first event; written back once at commit) and the side effects
    that must wait for the outcome (moving staged archive files into place after commit,
    removing them after a rollback)."""

    def __init__(self) -> None:
        self.head: str | None = None
        self.dirty = False
        # (after commit, after rollback) pairs, in the order they were registered
        self.hooks: list[tuple[Callable[[], None], Callable[[], None]]] = []


_local = threading.local()


def current_chain() -> _TxState | None:
    """The open transaction's state, or None outside `transaction()`."""
    return getattr(_local, "chain", None)


def on_outcome(after_commit: Callable[[], None], after_rollback: Callable[[], None]) -> None:
    """Run `after_commit` once the open transaction committed, `after_rollback` if it (or the
    savepoint around this call) rolled back. Outside a transaction there is nothing to wait
    for: `after_commit` runs at once."""
    state = current_chain()
    if state is None:
        after_commit()
        return
    state.hooks.append((after_commit, after_rollback))


def _run(hooks: list[Callable[[], None]]) -> None:
    for hook in hooks:
        try:
            hook()
        except OSError as exc:  # the database outcome stands; the file is reported, not lost
            log.error("archive step after the transaction failed: %s", exc)


def write_head(head: str | None) -> None:
    """Store the chain's head: once per transaction, at its end."""
    from mailproc.store import fastsql

    fastsql.execute("chain_head.write",
                    lambda: ChainHead.update(hash="").where(ChainHead.id == 1), [head, 1])


@contextmanager
def try_exclusive(name: str) -> Iterator[bool]:
    """`exclusive` without waiting: yields True holding the lock, False when another process
    holds it (nothing held then)."""
    with _database_lock(name, wait=False) as held:
        yield held


@contextmanager
def shared(name: str) -> Iterator[None]:
    """Hold the database-wide lock `name` in shared mode (waits while someone holds it
    exclusively): any number of shared holders at once, none while it is held exclusively.
    The outbox's flushers share it; settling what a dead flusher left takes it exclusively."""
    with _database_lock(name, wait=True, shared=True):
        yield


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Hold the database-wide lock `name` (waits for it): one holder at a time across every
    process on this database. SQLite: an advisory lock on a file beside the database;
    PostgreSQL: a session advisory lock. Both are released by the kernel or the server when
    the holder dies, even by SIGKILL, so a holder knows that what another holder left half
    done (a mail left 'sending') is orphaned."""
    with _database_lock(name, wait=True):
        yield


def lock_key(name: str) -> int:
    """The PostgreSQL advisory lock key of the database-wide lock `name`."""
    return int.from_bytes(hashlib.sha256(f"mailproc:{name}".encode()).digest()[:8], "big",
                          signed=True)


@contextmanager
def _database_lock(name: str, *, wait: bool, shared: bool = False) -> Iterator[bool]:
    database = db.obj
    if is_sqlite():
        path = str(database.database)
        if path in ("", ":memory:") or path.startswith("file::memory:"):
            yield True  # one process only
            return
        import fcntl

        with open(f"{path}.{name}.lock", "a+b") as fh:
            mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
            try:
                fcntl.flock(fh, mode if wait else mode | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    key = lock_key(name)
    kind = "_shared" if shared else ""
    if wait:
        database.execute_sql(f"SELECT pg_advisory_lock{kind}(%s)", (key,))
    elif not database.execute_sql(f"SELECT pg_try_advisory_lock{kind}(%s)",
                                  (key,)).fetchone()[0]:
        yield False
        return
    try:
        yield True
    finally:
        database.execute_sql(f"SELECT pg_advisory_unlock{kind}(%s)", (key,))


@contextmanager
def transaction() -> Iterator[None]:
    """A write transaction. SQLite takes the write lock at BEGIN (IMMEDIATE) so two processes
    registering at once queue up instead of failing with 'database is locked' on upgrade.
    Nested calls join the outer transaction. Hooks registered with `on_outcome` run after the
    outermost one ends, outside the write lock."""
    if current_chain() is not None:
        yield
        return
    _local.chain = state = _TxState()
    try:
        with db.obj.atomic("IMMEDIATE") if is_sqlite() else db.atomic():
            yield
            if state.dirty:
                write_head(state.head)
    except BaseException:
        _local.chain = None
        _run([undo for _, undo in reversed(state.hooks)])
        raise
    _local.chain = None
    _run([done for done, _ in state.hooks])


@contextmanager
def savepoint() -> Iterator[None]:
    """A step inside the open transaction that can fail alone: its writes (and the events it
    appended to the chain, and the files it staged) are undone, the rest of the transaction
    stays."""
    state = current_chain()
    if state is None:
        raise StoreError("savepoint needs an open store.transaction()")
    head, dirty, mark = state.head, state.dirty, len(state.hooks)
    try:
        with db.atomic():  # nested: a SAVEPOINT
            yield
    except BaseException:
        state.head, state.dirty = head, dirty
        undone, state.hooks[mark:] = state.hooks[mark:], []
        _run([undo for _, undo in reversed(undone)])
        raise


@contextmanager
def step() -> Iterator[None]:
    """One mail's writes: a savepoint inside a batch's transaction (so a failure undoes this
    mail only), nothing of its own outside one (its steps open their own transactions)."""
    if current_chain() is None:
        yield
        return
    with savepoint():
        yield


def init_schema(on_applied: Callable[[Migration], None] | None = None) -> int:
    """Create the schema, or bring it up to date with the pending numbered migrations
    (mailproc/migrations.py), each in a transaction of its own and recorded in
    `schema_migration`; idempotent. Returns the schema version (the newest migration).

    A database with no mailproc table is created whole from the models and stamped with
    every migration. `on_applied` is told about each migration actually run."""
    with _schema_lock():
        if not db.table_exists("schema_info"):
            db.create_tables(MODELS)
            SchemaInfo.create(version=SCHEMA_VERSION)
            at = _now_naive()
            for m in MIGRATIONS:
                SchemaMigration.create(number=m.number, name=m.name, applied_at=at)
            ChainHead.create(id=1, hash=GENESIS_HASH)
            return SCHEMA_VERSION
        _refuse_newer(_schema_version())
        if not db.table_exists("schema_migration"):
            # Release 0.1.0 kept only schema_info.version = 1: its schema is the baseline.
            db.create_tables([SchemaMigration])
            SchemaMigration.create(number=MIGRATIONS[0].number, name=MIGRATIONS[0].name,
                                   applied_at=_now_naive())
    for m in MIGRATIONS:
        with _schema_lock():
            if SchemaMigration.select().where(SchemaMigration.number == m.number).exists():
                continue  # applied before, or by a concurrent `mailproc init`
            if m.apply is None:
                raise StoreError(f"schema migration {m.number} ({m.name}) is the baseline "
                                 "and cannot be applied to this database; restore a backup")
            m.apply(db.obj)
            SchemaMigration.create(number=m.number, name=m.name, applied_at=_now_naive())
            SchemaInfo.update(version=m.number).execute()
        if on_applied is not None:
            on_applied(m)
    with _schema_lock():
        if not ChainHead.select().where(ChainHead.id == 1).exists():
            ChainHead.create(id=1, hash=GENESIS_HASH)
    return SCHEMA_VERSION


def pending_migrations() -> list[Migration]:
    """The migrations `mailproc init` would apply now."""
    if not db.table_exists("schema_migration"):
        done = {MIGRATIONS[0].number} if db.table_exists("schema_info") else set()
    else:
        done = {row.number for row in SchemaMigration.select(SchemaMigration.number)}
    return [m for m in MIGRATIONS if m.number not in done]


def check_schema() -> None:
    """Refuse to work on a database that `mailproc init` has not set up, that has pending
    migrations, or that a newer mailproc has upgraded."""
    if not db.table_exists("schema_info"):
        raise StoreError("the database has no mailproc schema yet; run `mailproc init` first")
    version = _schema_version()
    _refuse_newer(version)
    if version < SCHEMA_VERSION:
        pending = ", ".join(f"{m.number} ({m.name})" for m in pending_migrations())
        raise StoreError(
            f"the database needs schema migration(s) {pending}: stop `mailproc "
            "run`, back up (`mailproc backup DIR`), then run `mailproc init`"
        )


def _schema_version() -> int:
    info = SchemaInfo.select().first()
    return info.version if info is not None else 0


def _refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the database has schema version {version}, newer than this mailproc "
            f"({SCHEMA_VERSION}); upgrade mailproc"
        )


def _now_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def _schema_lock() -> Iterator[None]:
    """A transaction that serialises schema work between two `mailproc init` at once:
    SQLite takes the write lock at BEGIN; PostgreSQL locks schema_info (once it exists)."""
    if is_sqlite():
        with db.obj.atomic("IMMEDIATE"):
            yield
        return
    with db.atomic():
        if db.table_exists("schema_info"):
            db.execute_sql("LOCK TABLE schema_info IN SHARE ROW EXCLUSIVE MODE")
        yield
