"""Numbered schema migrations: each applied once, in order, by `mailproc init`.

Part of the database concern (store.py runs them; nothing else imports this module). Rules
for adding one:

- Append a `Migration` with the next number; never renumber, edit or remove a released one.
- Change the peewee model in store.py too, so a fresh database (created whole from the models
  and stamped with every number) ends up with the same schema as an upgraded one;
  tests/unit/test_upgrade.py compares the two.
- `apply` gets the database and runs inside the migration's transaction (SQLite and
  PostgreSQL both have transactional DDL): use `playhouse.migrate` operations or plain SQL on
  table names, never the current models, which describe the newest schema, not the one the
  migration starts from. SQLite cannot switch foreign keys off inside a transaction, so a
  migration that rebuilds a table there must not depend on that (add columns and indexes,
  create tables; copy rather than drop a referenced table).

Number 1 is the baseline, the schema of release 0.1.0 (which had only `schema_info.version =
1`); it is never executed: a database with no mailproc table is created whole instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import peewee as pw


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    apply: Callable[[pw.Database], None] | None  # None: the baseline, never executed


def _event_kind_index(database: pw.Database) -> None:
    # The scheduler looks up the last digest / recap event by kind every 15 minutes; without
    # an index that is a scan of the whole audit trail.
    from playhouse.migrate import SchemaMigrator, migrate  # only while migrating

    migrator = SchemaMigrator.from_database(database)
    migrate(migrator.add_index("event", ("kind",), False))


def _complaint_severity(database: pw.Database) -> None:
    # The PTPP category (Mayor / Minor / Observasi, issue #13); complaints registered before
    # it was kept were printed as Minor, which they stay. Plain ADD COLUMN with its default:
    # playhouse would rebuild the table on SQLite to make it NOT NULL, and dropping the old
    # complaint table would null the events' references to it (foreign keys stay on).
    database.execute_sql(
        "ALTER TABLE complaint ADD COLUMN severity VARCHAR(20) NOT NULL DEFAULT 'minor'")


def _complaint_repeat_of(database: pw.Database) -> None:
    # The earlier complaint a repeat complaint links to (issue #13); '' for the ones before.
    database.execute_sql(
        "ALTER TABLE complaint ADD COLUMN repeat_of VARCHAR(100) NOT NULL DEFAULT ''")


def _complaint_satisfaction(database: pw.Database) -> None:
    # The customer's rating after closing (issue #13); NULL: not (yet) rated.
    database.execute_sql("ALTER TABLE complaint ADD COLUMN satisfaction INTEGER")


def _complaint_return_state(database: pw.Database) -> None:
    # The return claim's inspection, decision and settlement (issue #13).
    database.execute_sql("ALTER TABLE complaint ADD COLUMN return_state TEXT NOT NULL "
                         "DEFAULT '{}'")


def _web_user(database: pw.Database) -> None:
    # The web page's accounts (issue #14). A frozen copy of the table as this migration makes
    # it (not models.User, which describes the newest schema), so the DDL is peewee's, the same
    # as a fresh database's on SQLite and PostgreSQL.
    class WebUser(pw.Model):
        name = pw.CharField(max_length=100, unique=True)
        password_hash = pw.CharField(max_length=300)
        role = pw.CharField(max_length=10)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "web_user"
            legacy_table_names = False  # as models.BaseModel: the same index name

    WebUser.bind(database, bind_refs=False, bind_backrefs=False)
    database.create_tables([WebUser])


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "release 0.1.0 schema", None),
    Migration(2, "index on event.kind", _event_kind_index),
    Migration(3, "complaint.severity (PTPP category)", _complaint_severity),
    Migration(4, "complaint.repeat_of (repeat complaints)", _complaint_repeat_of),
    Migration(5, "complaint.satisfaction (customer rating)", _complaint_satisfaction),
    Migration(6, "complaint.return_state (return claim to its end)", _complaint_return_state),
    Migration(7, "web_user (accounts of the web page)", _web_user),
)

LATEST = MIGRATIONS[-1].number

assert [m.number for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1)), \
    "migrations must be numbered 1, 2, 3 … without gaps"
