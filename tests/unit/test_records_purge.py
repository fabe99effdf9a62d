"""Records kept as the law asks, on a local installation: `records purge` past the retention
period (a dry run changes nothing; the tombstone keeps `audit verify` passing; a file a crash
left is caught and finished), `customer erase` (refused while open; the audit chain still
verifies, and a redacted event altered afterwards is still caught) and `customer export`."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

from appfixture import LocalApp
from test_audit_files import PNG, complaint_mail

YEAR = 365 * 24 * 3600


def verify(local: LocalApp) -> tuple[int, dict]:
    result = local.run("audit", "verify", "--json")
    return result.exit_code, json.loads(result.stdout)


def files_on_disk(root: Path) -> set[str]:
    archive = root / "archive"
    return {p.relative_to(archive).as_posix() for p in archive.rglob("*")
            if p.is_file() and ".staging" not in p.parts}


def rejected_complaint(local: LocalApp) -> str:
    local.deliver(complaint_mail(1, PNG))
    local.deliver(complaint_mail(2))
    first, second = local.poll()["registered"]
    assert local.run("complaints", "reject", first, "--reason", "pesanan uji").exit_code == 0
    return first


def test_a_purge_inside_retention_is_refused_and_a_dry_run_changes_nothing(tmp_path: Path):
    local = LocalApp(tmp_path)
    text = local.config.read_text(encoding="utf-8")
    assert "retention_years = 5" in text
    local.config.write_text(text.replace("retention_years = 5", "retention_years = 2"),
                            encoding="utf-8")
    rejected_complaint(local)
    today = local.clock.today()
    result = local.run("records", "purge", "--before", today.isoformat())
    assert result.exit_code == 1
    latest = today.replace(year=today.year - 2).isoformat()
    assert "inside the retention period (records.retention_years = 2)" in result.output
    assert f"--before {latest}" in result.output

    local.clock.advance(2 * YEAR + 10 * 24 * 3600)
    before = files_on_disk(tmp_path)
    latest = local.clock.today().replace(year=local.clock.today().year - 2).isoformat()
    plan = local.json("records", "purge", "--before", latest, "--dry-run")
    assert plan["dry_run"] and plan["files"] == 2 and len(plan["complaints"]) == 1
    assert files_on_disk(tmp_path) == before
    assert verify(local)[1]["files_removed"] == 0


def test_purge_removes_raw_mail_keeps_the_record_and_the_chain_verifies(tmp_path: Path):
    local = LocalApp(tmp_path)
    number = rejected_complaint(local)
    shown = local.json("complaints", "show", number)
    raw = shown["messages"][0]["archive"]
    photo = shown["attachments"][0]["archive"]
    form = shown["documents"][0]["archive"]
    local.clock.advance(5 * YEAR + 30 * 24 * 3600)
    latest = local.clock.today().replace(year=local.clock.today().year - 5).isoformat()
    done = local.json("records", "purge", "--before", latest)
    assert [c["number"] for c in done["complaints"]] == [number]
    assert {f["path"] for f in done["complaints"][0]["files"]} == {raw, photo}
    on_disk = files_on_disk(tmp_path)
    assert raw not in on_disk and photo not in on_disk and form in on_disk
    shown = local.json("complaints", "show", number)
    assert shown["status"] == "rejected" and shown["subject"] == "Barang rusak 1"
    assert shown["messages"][0]["archive"] is None
    assert shown["messages"][0]["from"] == "pelanggan1@example.com"  # the headers stay
    assert shown["attachments"][0]["status"] == "purged"
    [tomb] = [e for e in shown["events"] if e["kind"] == "records_purged"]
    assert tomb["data"]["reason"] == "retention" and tomb["data"]["retention_years"] == 5
    code, report = verify(local)
    assert code == 0 and report["files_removed"] == 2, report
    # Again: nothing left to remove.
    assert local.json("records", "purge", "--before", latest)["complaints"] == []

    # A removed file that is back (a crash before its removal, a restored backup) is named,
    # and the next purge removes it.
    (tmp_path / "archive" / raw).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "archive" / raw).write_bytes(b"raw mail")
    code, report = verify(local)
    assert code == 1 and report["file_problems"] == [
        {"path": raw, "problem": "not removed", "event_id": report["file_problems"][0]
         ["event_id"]}]
    assert "NOT REMOVED" in local.run("audit", "verify").output
    assert local.json("records", "purge", "--before", latest)["finished_from_earlier"] == 1
    assert verify(local)[0] == 0


def test_erase_is_refused_while_open_and_leaves_no_address_behind(tmp_path: Path):
    local = LocalApp(tmp_path)
    rejected_complaint(local)
    refused = local.run("customer", "erase", "pelanggan2@example.com", "--yes")
    assert refused.exit_code == 1 and "open complaint" in refused.output
    assert local.run("customer", "erase", "nobody@example.com", "--yes").exit_code == 3

    erased = local.json("customer", "erase", "pelanggan2@example.com", "--yes", "--force")
    assert erased["open_complaints"] == [erased["complaints"][0]]
    assert erased["files_removed"] == 1 and erased["events_redacted"] > 0
    db = sqlite3.connect(tmp_path / "var" / "mailproc.db")
    tables = [t for (t,) in db.execute("select name from sqlite_master where type = 'table'")]
    left = [(t, row) for t in tables for row in db.execute(f"select * from {t}")
            if any("pelanggan2" in str(v).lower() or "pelanggan 2" in str(v).lower()
                   for v in row)]
    assert left == []
    [(data,)] = db.execute("select data from event where kind = 'customer_erased'")
    assert json.loads(data)["customer"] == erased["pseudonym"]
    db.close()
    code, report = verify(local)
    assert code == 0 and report["events_redacted"] == erased["events_redacted"], report
    assert local.run("customer", "export", "pelanggan2@example.com").exit_code == 3

    # A redacted event changed afterwards is still caught.
    db = sqlite3.connect(tmp_path / "var" / "mailproc.db")
    db.execute("update event set data = replace(data, ?, 'someone') where id = "
               "(select min(id) from event where data like ?)",
               (erased["pseudonym"], f"%{erased['pseudonym']}%"))
    db.commit()
    db.close()
    code, report = verify(local)
    assert code == 1 and "was altered" in report["problem"]


def test_export_writes_the_customers_data_and_files(tmp_path: Path):
    local = LocalApp(tmp_path)
    number = rejected_complaint(local)
    target = tmp_path / "budi.zip"
    out = local.json("customer", "export", "Pelanggan1@example.com", "--output", str(target))
    assert out["complaints"] == [number] and out["files"] == 3
    with zipfile.ZipFile(target) as zf:
        data = json.loads(zf.read("data.json"))
        names = set(zf.namelist())
    assert data["customer"]["email"] == "pelanggan1@example.com"
    [complaint] = data["complaints"]
    assert complaint["number"] == number and complaint["rejected_reason"] == "pesanan uji"
    assert {f"arsip/{complaint['messages'][0]['archive']}",
            f"arsip/{complaint['documents'][0]['archive']}"} < names
    assert any(n.endswith("foto.png") for n in names)
    assert any(m["kind"] == "ack" for m in data["mail_sent_to_customer"])
    again = local.run("customer", "export", "pelanggan1@example.com", "--output", str(target))
    assert again.exit_code == 1 and "exists already" in again.output
    shown = local.json("complaints", "show", number)
    assert "customer_exported" not in [e["kind"] for e in shown["events"]]  # not the complaint's
    db = sqlite3.connect(tmp_path / "var" / "mailproc.db")
    [(data_json,)] = db.execute("select data from event where kind = 'customer_exported'")
    db.close()
    assert "pelanggan1@" not in data_json and json.loads(data_json)["complaints"] == [number]


def test_the_archive_removes_a_file_only_after_the_commit_that_recorded_it(tmp_path: Path):
    from datetime import UTC, datetime

    import pytest
    from test_archive_immutable import Deferred

    from mailproc.archive import Archive

    when = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    plain = Archive(tmp_path)
    photo = plain.store_attachment(when, "001", "<m1@example.com>", 1, "foto.png", b"png")
    raw = plain.store_message(when, "001", "<m1@example.com>", b"raw mail")
    form = plain.store_document(when, "001", "PTPP-001.docx", b"form")
    defer = Deferred()
    archive = Archive(tmp_path, defer)
    archive.remove(photo)
    for _done, undo in defer.hooks:  # the transaction rolled back: the file stays
        undo()
    defer.hooks.clear()
    assert (tmp_path / photo).exists()
    archive.remove(photo)
    archive.remove(raw)
    assert (tmp_path / photo).exists() and (tmp_path / raw).exists()  # not before the commit
    defer.commit()
    assert not (tmp_path / photo).exists() and not (tmp_path / raw).exists()
    # The attachment's own folders went with it; the complaint's folder and its forms stay.
    assert not (tmp_path / photo).parent.parent.exists()
    assert (tmp_path / form).exists() and (tmp_path / raw).parent.is_dir()
    for bad in ("../outside.txt", "2026/03/001/dokumen", "."):
        with pytest.raises(ValueError):
            archive.remove(bad)


def test_the_retention_period_is_checked_in_the_configuration(tmp_path: Path):
    local = LocalApp(tmp_path)
    text = local.config.read_text(encoding="utf-8")
    local.config.write_text(text.replace("retention_years = 5", "retention_years = 0"),
                            encoding="utf-8")
    result = local.run("records", "purge", "--before", "2020-01-01")
    assert result.exit_code == 2 and "records.retention_years: must be 1 or more" in \
        result.output
