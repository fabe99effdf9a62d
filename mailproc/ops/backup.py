"""`mailproc backup DIR`: a consistent copy of the database, the archive and the configuration
in DIR/<UTC timestamp>/, taken while `mailproc run` keeps working.

- SQLite: the online backup API (sqlite3.Connection.backup) in one step, so the copy is one
  consistent snapshot even in WAL mode with a writer busy; then `PRAGMA quick_check` on the
  copy. PostgreSQL: `pg_dump --format=custom` when pg_dump is on PATH (connection details
  passed in the PG* environment, so the password never shows in the process list); without
  pg_dump nothing is written and the error gives the command to run.
- The database is copied first, the archive after: every file the copied database refers to
  is already in the archive when its copy starts (archive files are written before the
  transaction that records them commits, and never changed afterwards).
- Everything is written into DIR/.<timestamp>.partial and renamed at the end, so a folder
  without the `.partial` suffix is a complete backup. On failure the partial folder is removed.
- Not copied: the secrets (the environment file, paths.state with the OAuth token file) and
  paths.state's locks and reports, which mailproc makes again.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from mailproc import __version__
from mailproc.config import Settings
from mailproc.errors import MailprocError

DB_FILE = "mailproc.db"
PG_FILE = "mailproc.pgdump"
MANIFEST = "MANIFEST.json"
Progress = Callable[[str], None]


class BackupError(MailprocError):
    """The backup could not be written; the message says what to do."""


@dataclass
class BackupResult:
    folder: Path
    database: Path | None = None
    archive: Path | None = None
    config: Path | None = None
    files: int = 0  # archive files copied
    bytes: int = 0  # everything written
    schema_version: int | None = None
    written: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "database": str(self.database) if self.database else None,
            "archive": str(self.archive) if self.archive else None,
            "config": str(self.config) if self.config else None,
            "archive_files": self.files,
            "bytes": self.bytes,
            "schema_version": self.schema_version,
        }


def sqlite_path(database_url: str) -> Path | None:
    if database_url.startswith("sqlite:///"):
        return Path(database_url[len("sqlite:///"):])
    return None


def backup(settings: Settings, dest: Path, *, now: datetime | None = None,
           progress: Progress | None = None, pg_dump: str | None = None) -> BackupResult:
    """Write DIR/<timestamp>/ (see the module doc). `pg_dump` overrides the binary found on
    PATH (tests)."""
    say = progress or (lambda _msg: None)
    now = now or datetime.now(UTC)
    db_file = sqlite_path(settings.database_url)
    pg_bin: str | None = None
    if db_file is None:
        pg_bin = pg_dump or shutil.which("pg_dump")
        if pg_bin is None:
            raise BackupError(
                "pg_dump is not on PATH (Debian: apt install postgresql-client); nothing was "
                f"written. Back up the database with: {pg_dump_hint(settings.database_url, dest)}"
                " and run `mailproc backup` again once pg_dump is installed"
            )
    elif not db_file.exists():
        raise BackupError(f"the database {db_file} does not exist; run `mailproc init` first")

    archive = settings.archive_dir.resolve()
    if dest.resolve() == archive or archive in dest.resolve().parents:
        raise BackupError(f"{dest} is inside the archive {archive}, which the backup copies; "
                          "choose a DIR outside it (better: on another disk)")
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    with _writing(dest):
        dest.mkdir(parents=True, exist_ok=True)
        final = dest / stamp
        n = 1
        while final.exists() or (dest / f".{final.name}.partial").exists():
            n += 1
            final = dest / f"{stamp}-{n}"
        partial = dest / f".{final.name}.partial"
        partial.mkdir(mode=0o700)  # customer data: for the mailproc user only
    result = BackupResult(folder=final)
    try:
        with _writing(partial):
            if db_file is not None:
                say(f"database {db_file} …")
                result.schema_version = _sqlite_backup(db_file, partial / DB_FILE)
                result.database = final / DB_FILE
            else:
                assert pg_bin is not None
                say("database (pg_dump) …")
                _pg_dump(pg_bin, settings.database_url, partial / PG_FILE)
                result.database = final / PG_FILE
            result.bytes += (partial / result.database.name).stat().st_size

            if settings.archive_dir.is_dir():
                result.files, size = _copy_tree(settings.archive_dir, partial / "archive", say)
                result.bytes += size
                result.archive = final / "archive"
            config = settings.config_path
            if config.is_file():
                (partial / "config").mkdir()
                shutil.copy2(config, partial / "config" / config.name)
                result.bytes += config.stat().st_size
                result.config = final / "config" / config.name
            manifest = result.as_dict() | {
                "mailproc": __version__,
                "created_at": now.astimezone(UTC).isoformat(),
                "engine": "sqlite" if db_file is not None else "postgresql",
                "database_source": str(db_file) if db_file is not None
                else _masked(settings.database_url),
                "archive_source": str(settings.archive_dir),
                "config_source": str(config),
            }
            (partial / MANIFEST).write_text(
                json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            _fsync_dir(partial)
            os.rename(partial, final)
            _fsync_dir(dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # only the folder this run created
        raise
    return result


# ---- SQLite ------------------------------------------------------------------------------

def _sqlite_backup(source: Path, target: Path) -> int | None:
    try:
        src = sqlite3.connect(f"file:{quote(str(source))}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open the database {source}: {exc}") from None
    try:
        dst = sqlite3.connect(target)
        try:
            # pages=-1 (the default): one step under one read transaction, a consistent
            # snapshot; stepping in pieces would restart whenever mailproc writes.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy of {source} failed its integrity check: {check}")
            try:
                row = dst.execute("SELECT version FROM schema_info").fetchone()
            except sqlite3.Error:
                row = None
        finally:
            dst.close()
    except sqlite3.OperationalError as exc:
        if "full" in str(exc).lower():
            raise OSError(errno.ENOSPC, "No space left on device", str(target)) from None
        raise BackupError(f"the SQLite backup of {source} failed: {exc}") from None
    finally:
        src.close()
    return row[0] if row else None


# ---- PostgreSQL --------------------------------------------------------------------------

def _pg_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    env = {
        "PGHOST": parts.hostname or "",
        "PGPORT": str(parts.port or ""),
        "PGUSER": unquote(parts.username or ""),
        "PGPASSWORD": unquote(parts.password or ""),
        "PGDATABASE": unquote(parts.path.lstrip("/")),
    }
    for key, values in parse_qs(parts.query).items():
        if key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout"):
            env["PG" + key.upper()] = values[0]
    return {k: v for k, v in env.items() if v}


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def pg_dump_hint(url: str, dest: Path) -> str:
    return (f"pg_dump --format=custom --file {dest}/mailproc-$(date -u +%Y%m%dT%H%M%SZ).pgdump "
            f"'{_masked(url)}'")


def _pg_dump(pg_bin: str, url: str, target: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | _pg_env(url)
    try:
        done = subprocess.run([pg_bin, "--format=custom", "--no-password", "--file",
                               str(target)], env=env, capture_output=True, text=True,
                              timeout=6 * 3600)
    except subprocess.TimeoutExpired:
        raise BackupError("pg_dump did not finish within 6 hours") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {done.returncode}"
        if "No space left" in done.stderr:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        raise BackupError(f"pg_dump failed: {detail}")


# ---- files -------------------------------------------------------------------------------

def _copy_tree(source: Path, target: Path, say: Progress) -> tuple[int, int]:
    """Copy the archive, files and folders only (links are not followed out of it)."""
    files = size = 0
    for folder, dirs, names in os.walk(source):
        rel = Path(folder).relative_to(source)
        (target / rel).mkdir(parents=True, exist_ok=True)
        dirs.sort()
        for name in sorted(names):
            src = Path(folder) / name
            if src.is_symlink() or not src.is_file():
                continue
            shutil.copy2(src, target / rel / name)
            files += 1
            size += src.stat().st_size
            if files % 500 == 0:
                say(f"archive: {files} files …")
    say(f"archive: {files} files")
    return files, size


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def _writing(where: Path) -> Iterator[None]:
    """OSError → one line saying what to do."""
    try:
        yield
    except OSError as exc:
        target = exc.filename or where
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise BackupError(
                f"no space left on the device of {target}: free some space or back up to "
                "another DIR; the incomplete backup was removed") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise BackupError(
                f"cannot write {target}: {exc.strerror}; choose a DIR the user running "
                "mailproc may write (e.g. /var/backups/mailproc)") from None
        if exc.errno in (errno.ENOTDIR, errno.EEXIST):
            raise BackupError(f"{target} is not a folder; give a folder as DIR") from None
        raise BackupError(f"backup failed at {target}: {exc.strerror or exc}") from None
