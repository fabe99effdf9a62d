"""The tables (peewee models) and the conversion of stored times.

Times are stored as naive UTC datetimes; callers pass and receive aware UTC datetimes through
`utcnow_naive` / `aware`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw

from mailproc.domain.records import customer_label
from mailproc.errors import MailprocError

db = pw.DatabaseProxy()

# Any error the database (or its driver, wrapped by peewee) raised: what callers outside the
# store catch, so that they need not import peewee.
DatabaseError = pw.PeeweeException


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
    return "(tidak diketahui)" if c is None else customer_label(c.name, c.email)


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
    # The PTPP category (domain.states.Severity): mayor / minor / observasi.
    # The database default too, as migration 3 adds it (a fresh schema equals an upgraded one).
    severity = pw.CharField(max_length=20, default="minor",
                            constraints=[pw.SQL("DEFAULT 'minor'")])
    # The earlier complaint this one repeats (same customer, same product or batch within
    # routing.repeat_window_days; domain.repeats), '' when none.
    repeat_of = pw.CharField(max_length=100, default="", constraints=[pw.SQL("DEFAULT ''")])
    # The customer's rating after closing, 1-5 (domain.satisfaction); None until they answer.
    satisfaction = pw.IntegerField(null=True)
    keyword_matches = pw.TextField(default="{}")  # JSON, for the audit trail
    department = pw.CharField(max_length=100, default="")
    return_requested = pw.BooleanField(default=False)
    # The return claim after its form arrived (domain.returns.ReturnState as JSON).
    return_state = pw.TextField(default="{}", constraints=[pw.SQL("DEFAULT '{}'")])
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


class User(BaseModel):
    """An account of the web page (mailproc/web): a scrypt hash of the password, never the
    password; role 'admin' (marketing administration: may act) or 'viewer' (reads only).
    Table web_user: "user" is a reserved word in PostgreSQL. Migration 7."""

    name = pw.CharField(max_length=100, unique=True)
    password_hash = pw.CharField(max_length=300)
    role = pw.CharField(max_length=10)
    created_at = pw.DateTimeField()

    class Meta:
        table_name = "web_user"


MODELS: list[type[BaseModel]] = [
    SchemaInfo, SchemaMigration, MailboxPosition, NumberSequence, Customer, Complaint, Ptpp,
    Message, Attachment, Document, FormSubmission, Event, Reminder, ChainHead, OutgoingMail,
    User,
]
