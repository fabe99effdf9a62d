"""peewee models, database set-up and migrations, and the queries the services need.

The only module that knows the database. Times are stored as naive UTC datetimes; callers pass
and receive aware UTC datetimes through the helpers at the bottom.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import peewee as pw
from playhouse.db_url import connect

from mailproc.errors import ConfigError, MailprocError
from mailproc.store.migrations import LATEST, MIGRATIONS, Migration

db = pw.DatabaseProxy()
SCHEMA_VERSION = LATEST  # the number of the newest migration (mailproc/migrations.py)
GENESIS_HASH = "0" * 64


class StoreError(MailprocError):
    """The database refused an operation; the message says which."""


def utcnow_naive(now: datetime) -> datetime:
    """Aware datetime → naive UTC for storage."""
    if now.tzinfo is None:
        raise ValueError("naive datetime passed where an aware one is required")
    return now.astimezone(UTC).replace(tzinfo=None)


def aware(value: datetime | None) -> datetime | None:
    """Stored naive UTC → aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back strings for some expressions
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False


class SchemaInfo(BaseModel):
    # The newest migration applied: one cheap read for check_schema. A mailproc older than
    # the database refuses it (release 0.1.0 only in `init`).
    version = pw.IntegerField()


class SchemaMigration(BaseModel):
    """One row per migration applied (mailproc/migrations.py), by `mailproc init`."""

    number = pw.IntegerField(primary_key=True)
    name = pw.CharField(max_length=200)
    applied_at = pw.DateTimeField()


class MailboxPosition(BaseModel):
    """Where incremental intake stopped: one row per (source, folder)."""

    source = pw.CharField(max_length=300)
    folder = pw.CharField(max_length=300)
    uidvalidity = pw.BigIntegerField(default=0)
    last_uid = pw.BigIntegerField(default=0)
    updated_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("source", "folder"), True),)


class NumberSequence(BaseModel):
    """The last PTPP sequence number given out per year; bumped inside the registering
    transaction, so a rolled-back registration gives its number back (no gaps)."""

    year = pw.IntegerField(primary_key=True)
    last = pw.IntegerField(default=0)


class Customer(BaseModel):
    email = pw.CharField(max_length=320, null=True, unique=True)
    name = pw.CharField(max_length=300, default="")
    organization = pw.CharField(max_length=300, default="")
    phone = pw.CharField(max_length=100, default="")
    created_at = pw.DateTimeField()


def customer_display(complaint: Complaint) -> str:
    """The complaint's customer as mail texts show it: "Name <address>", or what is known."""
    c = complaint.customer
    if c is None:
        return "(tidak diketahui)"
    return f"{c.name} <{c.email}>" if c.name and c.email else (c.email or c.name)


class Complaint(BaseModel):
    number = pw.CharField(max_length=100, unique=True)
    year = pw.IntegerField()
    seq = pw.IntegerField()
    status = pw.CharField(max_length=30, index=True)
    channel = pw.CharField(max_length=20, default="email")
    received_at = pw.DateTimeField(index=True)
    customer = pw.ForeignKeyField(Customer, backref="complaints", null=True)
    received_by = pw.CharField(max_length=320, default="")  # staff who took it (forwards)
    subject = pw.TextField(default="")
    description = pw.TextField(default="")
    categories = pw.TextField(default="[]")  # JSON list, best first
    category = pw.CharField(max_length=100, default="")
    keyword_matches = pw.TextField(default="{}")  # JSON, for the audit trail
    department = pw.CharField(max_length=100, default="")
    return_requested = pw.BooleanField(default=False)
    product = pw.CharField(max_length=300, default="")
    batch = pw.CharField(max_length=200, default="")
    quantity = pw.CharField(max_length=100, default="")
    invoice = pw.CharField(max_length=200, default="")
    delivery_note = pw.CharField(max_length=200, default="")
    first_response_at = pw.DateTimeField(null=True)
    # The customer asked to receive the analysis and action plan (procedure step 7).
    send_analysis_to_customer = pw.BooleanField(default=False)
    first_response_due_at = pw.DateTimeField(null=True)
    first_response_note = pw.TextField(default="")  # a response given by phone / in person
    contact = pw.CharField(max_length=300, default="")  # phone / WhatsApp for manual intake
    closed_at = pw.DateTimeField(null=True)
    rejected_reason = pw.TextField(default="")
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        indexes = ((("year", "seq"), True),)


class Ptpp(BaseModel):
    """One cycle of the corrective-action request for a complaint (cycle 2+ after a
    'not effective' verification)."""

    complaint = pw.ForeignKeyField(Complaint, backref="ptpps", on_delete="CASCADE")
    number = pw.CharField(max_length=100, index=True)
    cycle = pw.IntegerField(default=1)
    department = pw.CharField(max_length=100, default="")
    status = pw.CharField(max_length=30, default="open")
    created_at = pw.DateTimeField()
    issued_at = pw.DateTimeField(null=True)
    planned_at = pw.DateTimeField(null=True)
    implemented_at = pw.DateTimeField(null=True)
    root_cause = pw.TextField(default="")
    plan = pw.TextField(default="{}")  # JSON: the accepted form values of this cycle
    plan_due_at = pw.DateTimeField(null=True)  # analysis & plan due (working days after issue)
    verification_result = pw.CharField(max_length=20, default="")  # effective / not_effective
    verification_note = pw.TextField(default="")
    verifier = pw.CharField(max_length=320, default="")
    verified_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("complaint", "cycle"), True),)


class Message(BaseModel):
    """Every mail in and out, keyed by Message-ID (or a raw-hash key when it has none)."""

    key = pw.CharField(max_length=500, unique=True)
    message_id = pw.CharField(max_length=500, default="", index=True)
    direction = pw.CharField(max_length=3)  # 'in' or 'out'
    kind = pw.CharField(max_length=30)  # complaint, follow_up, auto_reply, own, quarantined, …
    complaint = pw.ForeignKeyField(Complaint, backref="messages", null=True, on_delete="SET NULL")
    from_addr = pw.CharField(max_length=320, default="")
    to_addrs = pw.TextField(default="")
    subject = pw.TextField(default="")
    sent_at = pw.DateTimeField(null=True)  # the Date header
    processed_at = pw.DateTimeField()
    size = pw.IntegerField(default=0)
    archive_path = pw.TextField(default="")
    reason = pw.TextField(default="")  # why ignored / quarantined
    source_uid = pw.CharField(max_length=300, default="")
    in_reply_to = pw.TextField(default="")
    references = pw.TextField(default="")
    sha256 = pw.CharField(max_length=64, default="")  # of the raw bytes (incoming mail)


class Attachment(BaseModel):
    # None for files handed in with a complaint entered by hand (`complaints add`).
    message = pw.ForeignKeyField(Message, backref="attachments", null=True, on_delete="CASCADE")
    complaint = pw.ForeignKeyField(Complaint, backref="attachments", null=True,
                                   on_delete="SET NULL")
    filename = pw.CharField(max_length=300)
    original_filename = pw.TextField(default="")
    content_type = pw.CharField(max_length=200, default="")
    size = pw.BigIntegerField(default=0)
    sha256 = pw.CharField(max_length=64, default="")
    inline = pw.BooleanField(default=False)
    status = pw.CharField(max_length=20, default="stored")  # stored, too_large, over_count
    archive_path = pw.TextField(default="")


class Document(BaseModel):
    """A form of a complaint: generated by mailproc (the PTPP of a cycle, the return-claim
    form) or received back filled."""

    complaint = pw.ForeignKeyField(Complaint, backref="documents", on_delete="CASCADE")
    form = pw.CharField(max_length=20)  # 'ptpp' or 'retur'
    cycle = pw.IntegerField(default=1)
    origin = pw.CharField(max_length=10)  # 'generated' or 'received'
    filename = pw.CharField(max_length=300)
    archive_path = pw.TextField()
    sha256 = pw.CharField(max_length=64)
    size = pw.IntegerField()
    message = pw.ForeignKeyField(Message, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField()


class FormSubmission(BaseModel):
    """One filled form read back from a reply: its values, and whether it moved the PTPP."""

    complaint = pw.ForeignKeyField(Complaint, backref="submissions", on_delete="CASCADE")
    form = pw.CharField(max_length=20)
    cycle = pw.IntegerField(default=1)
    step = pw.CharField(max_length=20)
    values = pw.TextField()  # JSON
    how = pw.TextField(default="{}")  # JSON: field -> tag / alias / label
    accepted = pw.BooleanField()
    problems = pw.TextField(default="[]")  # JSON list of Indonesian messages
    sender = pw.CharField(max_length=320)
    message = pw.ForeignKeyField(Message, null=True, on_delete="SET NULL")
    document = pw.ForeignKeyField(Document, null=True, on_delete="SET NULL")
    created_at = pw.DateTimeField()


class Event(BaseModel):
    """Append-only and hash-chained: each row carries the hash of the one before."""

    complaint = pw.ForeignKeyField(Complaint, backref="events", null=True, on_delete="SET NULL")
    at = pw.DateTimeField(index=True)
    actor = pw.CharField(max_length=320)
    source = pw.CharField(max_length=500)
    kind = pw.CharField(max_length=50, index=True)  # index: migration 2
    data = pw.TextField(default="{}")
    prev_hash = pw.CharField(max_length=64)
    hash = pw.CharField(max_length=64, unique=True)


class Reminder(BaseModel):
    """A reminder or escalation sent: the 'at most once a day' memory of the monitoring job."""

    complaint = pw.ForeignKeyField(Complaint, backref="reminders", on_delete="CASCADE")
    what = pw.CharField(max_length=60)  # e.g. 'first_response', 'plan', 'action_2'
    kind = pw.CharField(max_length=20)  # 'before', 'overdue'
    day = pw.DateField()  # the company-local day it was sent
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("complaint", "what", "kind", "day"), True),)


class ChainHead(BaseModel):
    """A single row locked while appending an event so two writers cannot fork the chain."""

    id = pw.IntegerField(primary_key=True)
    hash = pw.CharField(max_length=64)


class OutgoingMail(BaseModel):
    """The transactional outbox: written with the state change, sent after commit."""

    message_id = pw.CharField(max_length=500, unique=True)
    complaint = pw.ForeignKeyField(Complaint, backref="outgoing", null=True, on_delete="SET NULL")
    kind = pw.CharField(max_length=40)
    to_addrs = pw.TextField()  # JSON list
    cc_addrs = pw.TextField(default="[]")
    subject = pw.TextField()
    body_text = pw.TextField()
    body_html = pw.TextField(default="")
    in_reply_to = pw.CharField(max_length=500, default="")
    references = pw.TextField(default="")
    attachments = pw.TextField(default="[]")  # JSON list of archive paths
    # queued → sending → sent; or failed
    status = pw.CharField(max_length=20, default="queued", index=True)
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(index=True)
    last_error = pw.TextField(default="")
    created_at = pw.DateTimeField()
    sent_at = pw.DateTimeField(null=True)
    # The customer an automatic reply went to, indexed for the per-sender loop guard.
    auto_reply_to = pw.CharField(max_length=320, default="")

    class Meta:
        indexes = ((("auto_reply_to", "created_at"), False),)


MODELS: list[type[BaseModel]] = [
    SchemaInfo, SchemaMigration, MailboxPosition, NumberSequence, Customer, Complaint, Ptpp,
    Message, Attachment, Document, FormSubmission, Event, Reminder, ChainHead, OutgoingMail,
]


def open_database(url: str, *, source: str = "database.url") -> pw.Database:
    """Bind the models to the database at `url` (sqlite:///… or postgresql://…) and connect,
    so that a database that cannot be used is one clear error here, naming `source` (the
    setting or environment variable the URL came from), not a traceback later."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        database: pw.Database = pw.SqliteDatabase(
            path,
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10000,
                     "synchronous": "normal"},
        )
    else:
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


def is_sqlite() -> bool:
    return isinstance(db.obj, pw.SqliteDatabase)


class _ChainCursor:
    """The event chain's head within one transaction: read (and on PostgreSQL locked) at the
    first event, written back once at commit; saves two statements per event."""

    def __init__(self) -> None:
        self.head: str | None = None
        self.dirty = False


_local = threading.local()


@contextmanager
def transaction() -> Iterator[None]:
    """A write transaction. SQLite takes the write lock at BEGIN (IMMEDIATE) so two processes
    registering at once queue up instead of failing with 'database is locked' on upgrade.
    Nested calls join the outer transaction."""
    if getattr(_local, "chain", None) is not None:
        yield
        return
    _local.chain = cursor = _ChainCursor()
    try:
        with db.obj.atomic("IMMEDIATE") if is_sqlite() else db.atomic():
            yield
            if cursor.dirty:
                ChainHead.update(hash=cursor.head).where(ChainHead.id == 1).execute()
    finally:
        _local.chain = None


@contextmanager
def savepoint() -> Iterator[None]:
    """A step inside the open transaction that can fail alone: its writes (and the events it
    appended to the chain) are undone, the rest of the transaction stays."""
    cursor: _ChainCursor | None = getattr(_local, "chain", None)
    if cursor is None:
        raise StoreError("savepoint needs an open store.transaction()")
    head, dirty = cursor.head, cursor.dirty
    try:
        with db.atomic():  # nested: a SAVEPOINT
            yield
    except BaseException:
        cursor.head, cursor.dirty = head, dirty
        raise


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


# ---- numbering ---------------------------------------------------------------------------

def next_sequence(year: int) -> int:
    """Allocate the next sequence number of `year`; call inside `transaction()`."""
    # Make sure the year's row exists before locking it: FOR UPDATE locks nothing when the
    # row is missing, so two first registrations of a year would both insert it and one would
    # fail. ON CONFLICT DO NOTHING waits for a concurrent insert of the row to commit.
    NumberSequence.insert(year=year, last=0).on_conflict_ignore().execute()
    query = NumberSequence.select().where(NumberSequence.year == year)
    if not is_sqlite():
        query = query.for_update()
    row = query.get()
    NumberSequence.update(last=NumberSequence.last + 1).where(
        NumberSequence.year == year).execute()
    return row.last + 1


# ---- events ------------------------------------------------------------------------------

def event_hash(prev_hash: str, at: datetime, actor: str, source: str, kind: str,
               complaint_number: str, data: str) -> str:
    payload = json.dumps(
        [prev_hash, at.isoformat(), actor, source, kind, complaint_number, data],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append_event(*, complaint: Complaint | None, at: datetime, actor: str, source: str,
                 kind: str, data: dict[str, Any] | None = None) -> Event:
    """Append one event to the chain; call inside `transaction()`."""
    cursor: _ChainCursor | None = getattr(_local, "chain", None)
    if cursor is None:
        raise StoreError("append_event needs an open store.transaction()")
    if cursor.head is None:
        query = ChainHead.select().where(ChainHead.id == 1)
        if not is_sqlite():
            query = query.for_update()  # serialises writers of the chain until commit
        head = query.first()
        if head is None:
            ChainHead.create(id=1, hash=GENESIS_HASH)
        cursor.head = head.hash if head else GENESIS_HASH
    prev = cursor.head
    at_naive = utcnow_naive(at).replace(microsecond=0)
    data_json = json.dumps(data or {}, ensure_ascii=False, sort_keys=True, default=str)
    number = complaint.number if complaint is not None else ""
    digest = event_hash(prev, at_naive, actor, source, kind, number, data_json)
    event = Event.create(complaint=complaint, at=at_naive, actor=actor, source=source, kind=kind,
                         data=data_json, prev_hash=prev, hash=digest)
    cursor.head = digest
    cursor.dirty = True
    return event


@dataclass(frozen=True)
class ChainReport:
    events: int
    problem: str = ""  # '' when the chain is intact; else names the first bad event
    event_id: int | None = None


def verify_chain() -> ChainReport:
    """Walk the event chain from the start: every event must hash to what it says and point at
    the one before it; the chain head must be the last event. Names the first break."""
    prev = GENESIS_HASH
    count = 0
    query = (Event.select(Event, Complaint.id, Complaint.number)
             .join(Complaint, pw.JOIN.LEFT_OUTER).order_by(Event.id))
    for event in query.iterator():
        count += 1
        # With the join, event.complaint is the joined row (None-valued when there is none).
        number = (event.complaint.number or "") if event.complaint is not None else ""
        at = aware(event.at)
        assert at is not None
        if event.prev_hash != prev:
            return ChainReport(count, f"event {event.id} ({event.kind}, {at.isoformat()}) does "
                                      "not follow the event before it: an event before it was "
                                      "removed or altered", event.id)
        digest = event_hash(event.prev_hash, at.replace(tzinfo=None), event.actor,
                            event.source, event.kind, number, event.data)
        if digest != event.hash:
            return ChainReport(count, f"event {event.id} ({event.kind}, {at.isoformat()}) was "
                                      "altered: its content no longer matches its hash",
                               event.id)
        prev = event.hash
    head = ChainHead.get_or_none(ChainHead.id == 1)
    if head is not None and head.hash != prev:
        return ChainReport(count, "the last event(s) of the chain were removed: the chain head "
                                  f"does not match event {count and prev[:12]}…")
    return ChainReport(count)


# ---- lookups -----------------------------------------------------------------------------

def message_exists(key: str) -> bool:
    return Message.select().where(Message.key == key).exists()


def complaint_by_message_ids(ids: list[str]) -> Complaint | None:
    """The complaint of the newest stored message (in or out) whose Message-ID is in `ids`."""
    ids = [i for i in ids if i]
    if not ids:
        return None
    row = (Message.select(Message.complaint)
           .where(Message.message_id.in_(ids) & Message.complaint.is_null(False))
           .order_by(Message.id.desc()).first())
    return row.complaint if row else None


def complaint_by_number(number: str) -> Complaint | None:
    return Complaint.get_or_none(Complaint.number == number)


def count_auto_replies_since(address: str, since: datetime) -> int:
    """Automatic replies mailproc queued to `address` since `since` (loop guard)."""
    return (OutgoingMail.select()
            .where(OutgoingMail.auto_reply_to == address.lower(),
                   OutgoingMail.created_at >= utcnow_naive(since))
            .count())


def get_position(source: str, folder: str) -> MailboxPosition:
    pos, _ = MailboxPosition.get_or_create(source=source, folder=folder)
    return pos


def save_position(source: str, folder: str, uidvalidity: int, last_uid: int,
                  now: datetime) -> None:
    (MailboxPosition.update(uidvalidity=uidvalidity, last_uid=last_uid,
                            updated_at=utcnow_naive(now))
     .where(MailboxPosition.source == source, MailboxPosition.folder == folder).execute())


def find_or_create_customer(email: str, name: str, now: datetime) -> Customer:
    email = email.lower()
    customer = Customer.get_or_none(Customer.email == email)
    if customer is None:
        customer = Customer.create(email=email, name=name, created_at=utcnow_naive(now))
    elif name and not customer.name:
        customer.name = name
        customer.save()
    return customer
