"""Upgrades: `mailproc init` applies the numbered migrations to a database made by the previous
release (tests/fixtures/db/release-0.1.0.sql, dumped from `mailproc init` + `complaints add`
run with release 0.1.0), records them, keeps the data, and leaves the same schema a fresh
database gets."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from appfixture import LocalApp, write_config
from click.testing import CliRunner
from testclock import TestClock

from mailproc.cli import Ctx, cli
from mailproc.store import migrations

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "db" / "release-0.1.0.sql"
NUMBER = "001/PTPP/MKT/XI/2026"
# The day after the fixture's complaint (received 30 Nov 2026), whatever today is.
CLOCK = TestClock(datetime(2026, 12, 1, 3, 0, tzinfo=UTC))


def run(config: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(config), *args], obj=Ctx(None, clock=CLOCK))


def load_release_010(root: Path) -> Path:
    config = write_config(root)
    db_path = root / "var" / "mailproc.db"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db_path)
    con.executescript(FIXTURE.read_text(encoding="utf-8"))
    con.close()
    return config


def schema(db_path: Path) -> dict[str, tuple]:
    """Tables → (columns with type / not null / default / pk, indexes with columns)."""
    con = sqlite3.connect(db_path)
    try:
        out = {}
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        for table in sorted(tables):
            columns = sorted(tuple(r[1:]) for r in con.execute(f'PRAGMA table_info("{table}")'))
            indexes = sorted(
                (name, unique, tuple(c[2] for c in con.execute(f'PRAGMA index_info("{name}")')))
                for _, name, unique, *_ in con.execute(f'PRAGMA index_list("{table}")'))
            out[table] = (columns, indexes)
        return out
    finally:
        con.close()


def test_init_upgrades_a_release_010_database(tmp_path: Path):
    config = load_release_010(tmp_path)
    db_path = tmp_path / "var" / "mailproc.db"

    before = run(config, "complaints", "list")
    assert before.exit_code == 1
    assert "mailproc init" in before.output and "2 (index on event.kind)" in before.output

    first = run(config, "init")
    assert first.exit_code == 0, first.output
    assert "applied schema migration 2: index on event.kind" in first.output
    assert f"schema version {migrations.LATEST}" in first.output

    con = sqlite3.connect(db_path)
    rows = con.execute("SELECT number, name, applied_at FROM schema_migration ORDER BY number")
    rows = rows.fetchall()
    version = con.execute("SELECT version FROM schema_info").fetchall()
    con.close()
    assert [(n, name) for n, name, _ in rows] == [(m.number, m.name)
                                                 for m in migrations.MIGRATIONS]
    assert all(at for _, _, at in rows)
    assert version == [(migrations.LATEST,)]

    listed = run(config, "complaints", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [complaint] = json.loads(listed.stdout)
    assert complaint["number"] == NUMBER and complaint["customer"] == "budi@pelanggan.example"
    assert run(config, "complaints", "show", NUMBER).exit_code == 0
    assert run(config, "audit", "verify").exit_code == 0  # the event chain survived

    again = run(config, "init")
    assert again.exit_code == 0 and "applied" not in again.output

    # The upgraded database has exactly the schema a fresh one gets from the models.
    fresh = LocalApp(tmp_path / "fresh")
    assert schema(db_path) == schema(fresh.root / "var" / "mailproc.db")

    # A new complaint still numbers after the one the old release registered.
    added = run(config, "complaints", "add", "--channel", "telepon", "--customer", "Ani",
                "--description", "Tutup botol retak", "--received-at", "2026-11-30 14:00",
                "--by", "test")
    assert added.exit_code == 0, added.output
    assert "registered 002/PTPP/MKT/XI/2026" in added.output


def test_a_database_from_a_newer_mailproc_is_refused(tmp_path: Path):
    app = LocalApp(tmp_path)
    con = sqlite3.connect(tmp_path / "var" / "mailproc.db")
    with con:
        con.execute("UPDATE schema_info SET version = ?", (migrations.LATEST + 1,))
    con.close()
    for args in (("complaints", "list"), ("init",)):
        result = run(app.config, *args)
        assert result.exit_code == 1
        assert "newer than this mailproc" in result.output and "upgrade mailproc" in result.output


def test_migrations_are_numbered_and_named():
    numbers = [m.number for m in migrations.MIGRATIONS]
    assert numbers == list(range(1, len(numbers) + 1))
    assert migrations.MIGRATIONS[0].apply is None  # the baseline is never executed
    assert all(m.apply is not None for m in migrations.MIGRATIONS[1:])
    assert len({m.name for m in migrations.MIGRATIONS}) == len(numbers)
