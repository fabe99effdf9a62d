"""Operations on PostgreSQL: `mailproc init` upgrades a database with the schema of release
0.1.0 (made here by taking a fresh schema back to that state: no schema_migration table, no
index on event.kind, schema_info.version 1); `mailproc backup` with pg_dump."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from appfixture import write_config
from test_postgres import pg_url, postgres  # noqa: F401 - fixtures

from mailproc import store
from mailproc.config import load_settings
from mailproc.ops import backup
from mailproc.store import migrations


def test_init_applies_pending_migrations_on_postgresql(pg_url: str) -> None:  # noqa: F811
    database = store.open_database(pg_url)
    assert store.init_schema() == migrations.LATEST
    database.execute_sql('DROP TABLE "schema_migration"')
    database.execute_sql('DROP INDEX "event_kind"')
    database.execute_sql('ALTER TABLE "complaint" DROP COLUMN "severity"')  # migration 3's
    database.execute_sql('ALTER TABLE "complaint" DROP COLUMN "repeat_of"')  # migration 4's
    database.execute_sql('ALTER TABLE "complaint" DROP COLUMN "satisfaction"')  # migration 5's
    database.execute_sql('ALTER TABLE "complaint" DROP COLUMN "return_state"')  # migration 6's
    database.execute_sql('DROP TABLE "web_user"')  # migration 7's
    database.execute_sql('UPDATE "schema_info" SET "version" = 1')
    after_baseline = [m.number for m in migrations.MIGRATIONS[1:]]
    assert [m.number for m in store.pending_migrations()] == after_baseline
    with pytest.raises(store.StoreError, match="mailproc init"):
        store.check_schema()

    applied: list[int] = []
    assert store.init_schema(on_applied=lambda m: applied.append(m.number)) == migrations.LATEST
    assert applied == after_baseline
    assert [(r.number, r.name) for r in store.SchemaMigration.select().order_by(
        store.SchemaMigration.number)] == [(m.number, m.name) for m in migrations.MIGRATIONS]
    assert store.SchemaInfo.get().version == migrations.LATEST
    assert "event_kind" in {i.name for i in database.get_indexes("event")}
    store.check_schema()
    assert store.init_schema(on_applied=lambda m: applied.append(m.number)) == migrations.LATEST
    assert applied == after_baseline  # nothing the second time


def test_backup_runs_pg_dump(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    store.open_database(pg_url)
    store.init_schema()
    store.db.close()
    settings = load_settings(write_config(tmp_path), {"MAILPROC_DATABASE_URL": pg_url})
    result = backup.backup(settings, tmp_path / "backups")
    dump = result.folder / "mailproc.pgdump"
    assert result.database == dump and dump.stat().st_size > 0
    pg_restore = shutil.which("pg_restore")
    assert pg_restore is not None
    listing = subprocess.run([pg_restore, "--list", str(dump)], capture_output=True, text=True,
                             check=True).stdout
    assert "TABLE public complaint" in listing and "schema_migration" in listing
