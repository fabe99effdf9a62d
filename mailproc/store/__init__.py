"""The database: the one package that knows peewee and SQL.

Owns the tables (`models`), opening the database and its schema (`db`, `migrations`), the
hash-chained event log (`chain`), the unit of work the use cases write through (`uow`: a
transaction, the lifecycle aggregate loaded and saved, its domain events appended to the
chain, the outgoing mail rows, the archive files moved into place after commit), the outbox
rows (`outbox`), the lookups and read models the use cases and the CLI read (`queries`,
`readmodels`, `monitoring`, `reportdata`). It knows nothing about mail formats or Word forms and
makes no decision of the procedure: those come from `mailproc.domain`.

The names below are the store's public face; rows it hands out are read as records.
"""

from mailproc.store.chain import (
    ChainReport,
    append_event,
    archived_files,
    chain_head,
    event_hash,
    record,
    record_files,
    removed_files,
    rewrite_event,
    verify_chain,
)
from mailproc.store.db import (
    GENESIS_HASH,
    SCHEMA_VERSION,
    check_schema,
    connection_lost,
    drop_connection,
    exclusive,
    explain_connect_error,
    explain_disk_full,
    explain_unavailable,
    init_schema,
    is_sqlite,
    lock_key,
    on_outcome,
    open_database,
    pending_migrations,
    savepoint,
    shared,
    step,
    transaction,
    try_exclusive,
)
from mailproc.store.models import (
    MODELS,
    Attachment,
    ChainHead,
    Complaint,
    Customer,
    DatabaseError,
    Document,
    Event,
    FormSubmission,
    MailboxPosition,
    Message,
    NumberSequence,
    OutgoingMail,
    Ptpp,
    Reminder,
    SchemaInfo,
    SchemaMigration,
    StoreError,
    aware,
    customer_display,
    db,
    utcnow_naive,
)
from mailproc.store.queries import (
    complaint_by_message_ids,
    complaint_by_number,
    count_auto_replies_since,
    find_or_create_customer,
    get_position,
    message_exists,
    next_sequence,
    peek_sequence,
    save_position,
)

__all__ = [
    "GENESIS_HASH", "MODELS", "SCHEMA_VERSION", "Attachment", "ChainHead", "ChainReport",
    "Complaint", "Customer", "DatabaseError", "Document", "Event", "FormSubmission",
    "MailboxPosition",
    "Message", "NumberSequence", "OutgoingMail", "Ptpp", "Reminder", "SchemaInfo",
    "SchemaMigration", "StoreError", "append_event", "aware", "check_schema",
    "complaint_by_message_ids", "complaint_by_number", "count_auto_replies_since",
    "customer_display", "db", "event_hash", "explain_connect_error", "explain_disk_full",
    "find_or_create_customer", "get_position", "init_schema", "is_sqlite", "message_exists",
    "next_sequence", "on_outcome", "open_database", "peek_sequence", "pending_migrations",
    "exclusive", "record", "record_files", "archived_files", "chain_head",
    "save_position", "savepoint", "shared", "step", "transaction", "try_exclusive", "utcnow_naive",
    "verify_chain", "lock_key", "connection_lost", "drop_connection", "explain_unavailable",
    "removed_files", "rewrite_event",
]
