"""`mailproc backup DIR`: a SQLite online backup, the archive and the configuration in
DIR/<timestamp>/; a full disk or an unwritable DIR is one line saying what to do."""

from __future__ import annotations

import errno
import json
import sqlite3
from pathlib import Path

import pytest
from appfixture import REPO, LocalApp

from mailproc.ops import backup as backup_mod


@pytest.fixture
def app(tmp_path: Path) -> LocalApp:
    app = LocalApp(tmp_path / "site")
    for eml in sorted((REPO / "examples" / "inbox").glob("*.eml"))[:2]:
        app.deliver(eml.read_bytes())
    assert app.poll()["registered"]
    return app


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_backup_copies_database_archive_and_config(app: LocalApp, tmp_path: Path):
    dest = tmp_path / "backups"
    result = app.run("backup", str(dest), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    folder = Path(data["folder"])
    assert folder.parent == dest and folder.is_dir()
    assert [p.name for p in dest.iterdir()] == [folder.name]  # no .partial left behind
    assert "archive:" not in result.stderr  # progress only on a terminal

    copy = folder / "mailproc.db"
    assert data["database"] == str(copy) and data["schema_version"] >= 2
    con = sqlite3.connect(copy)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one plain file
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        numbers = [r[0] for r in con.execute("SELECT number FROM complaint ORDER BY number")]
    finally:
        con.close()
    assert len(numbers) == 2

    archive = files_under(app.root / "archive")
    assert archive and files_under(folder / "archive") == archive
    assert data["archive_files"] == len(archive)
    assert (folder / "config" / "mailproc.toml").read_bytes() == app.config.read_bytes()
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    assert manifest["engine"] == "sqlite" and manifest["folder"] == str(folder)

    # The copy is a working database: point mailproc at it.
    restored = app.run("complaints", "list", "--json",
                       env={"MAILPROC_DATABASE_URL": f"sqlite:///{copy}"})
    assert sorted(c["number"] for c in json.loads(restored.stdout)) == numbers

    second = app.run("backup", str(dest))
    assert second.exit_code == 0 and "backup written to" in second.output
    assert len(list(dest.iterdir())) == 2  # a second folder, the first one untouched


@pytest.mark.parametrize("error,words", [
    (errno.ENOSPC, "no space left"),
    (errno.EACCES, "choose a DIR"),
])
def test_disk_full_or_unwritable_is_one_line(app: LocalApp, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, error: int,
                                             words: str):
    def fail(src, dst, **_kw):
        raise OSError(error, "simulated", str(dst))

    monkeypatch.setattr(backup_mod.shutil, "copy2", fail)
    dest = tmp_path / "backups"
    result = app.run("backup", str(dest))
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("mailproc: error:")
    assert words in result.output
    assert list(dest.iterdir()) == []  # the partial backup was removed


def test_dir_inside_the_archive_is_refused(app: LocalApp):
    result = app.run("backup", str(app.root / "archive" / "backups"))
    assert result.exit_code == 1 and "inside the archive" in result.output
    assert not (app.root / "archive" / "backups").exists()


def test_dir_that_is_a_file_is_refused(app: LocalApp, tmp_path: Path):
    target = tmp_path / "a-file"
    target.write_text("x")
    result = app.run("backup", str(target))
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_postgresql_without_pg_dump_gives_the_command(app: LocalApp, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(backup_mod.shutil, "which", lambda _name: None)
    dest = tmp_path / "backups"
    result = app.run("backup", str(dest),
                     env={"MAILPROC_DATABASE_URL": "postgresql://mp:s3cret@db.example/mailproc"})
    assert result.exit_code == 1
    assert "pg_dump --format=custom" in result.output and "s3cret" not in result.output
    assert "postgresql://mp:***@db.example/mailproc" in result.output
    assert not dest.exists()


def test_pg_environment_from_url():
    env = backup_mod._pg_env("postgresql://mp%40x:p%3Ass@db.example:5433/mail?sslmode=verify-full")
    assert env == {"PGHOST": "db.example", "PGPORT": "5433", "PGUSER": "mp@x",
                   "PGPASSWORD": "p:ss", "PGDATABASE": "mail", "PGSSLMODE": "verify-full"}
