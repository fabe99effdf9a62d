"""`mailproc doctor` on a local Maildir installation: templates and mail texts rendered with
undefined variables as errors, the database, the archive, the calendar; and it touches no
mail (issue #9, item 4). The IMAP and SMTP lines are in tests/integration/test_doctor_servers.py."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import namedtuple
from pathlib import Path

from appfixture import REPO, LocalApp
from docfill import edit_part

import mailproc.ops.doctor
from mailproc.ops import doctor


def run(app: LocalApp, *args: str) -> tuple[int, list[dict[str, str]]]:
    result = app.run("doctor", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def by_check(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["check"]: r for r in rows}


def with_templates_copy(tmp_path: Path) -> tuple[LocalApp, Path]:
    """A LocalApp whose paths.templates is a copy of doc_templates/ it may break."""
    copy = tmp_path / "templates"
    shutil.copytree(REPO / "doc_templates", copy)
    app = LocalApp(tmp_path / "app", templates=copy)
    return app, copy


def test_a_fresh_installation_passes_and_json_is_one_object_per_check(tmp_path: Path):
    app = LocalApp(tmp_path)
    code, rows = run(app)
    assert code == 0, rows
    assert all(set(r) == {"check", "status", "message"} for r in rows)
    assert all(r["status"] in ("ok", "warn") for r in rows)
    checks = by_check(rows)
    for name in ("config", "template ptpp", "template retur", "template closure",
                 "template recap", "mail texts", "database", "mailbox", "smtp", "archive",
                 "state folder"):
        assert name in checks, name
    year = app.clock().year
    assert f"calendar {year}" in checks and f"calendar {year + 1}" in checks
    text = app.run("doctor")
    assert text.exit_code == 0
    assert len(text.output.splitlines()) == len(rows)  # one line per check


def test_mail_text_with_an_undefined_variable_fails_naming_file_and_variable(tmp_path: Path):
    app, copy = with_templates_copy(tmp_path)
    ack = copy / "email" / "ack_customer.txt"
    ack.write_text(ack.read_text(encoding="utf-8") + "\n{{ no_such_var }}\n", encoding="utf-8")
    code, rows = run(app)
    assert code == 1
    [line] = [r for r in rows if r["status"] == "fail"]
    assert line["check"] == "mail texts"
    assert "ack_customer.txt" in line["message"] and "no_such_var" in line["message"]
    # `templates check` says so too (it used to pass), and exits 1.
    checked = app.run("templates", "check")
    assert checked.exit_code == 1
    assert "ack_customer.txt" in checked.output and "no_such_var" in checked.output
    assert app.run("templates", "check", "email").exit_code == 1
    assert app.run("templates", "check", "ptpp").exit_code == 0


def test_every_shipped_mail_text_is_covered_and_an_unknown_file_is_a_warning(tmp_path: Path):
    shipped = {p.stem for p in (REPO / "doc_templates" / "email").glob("*.txt")}
    assert shipped == set(doctor.MAIL_SAMPLES)
    assert doctor.check_mail_texts(REPO / "doc_templates") == []
    app, copy = with_templates_copy(tmp_path)
    (copy / "email" / "ack_custmer.txt").write_text("Subject: x\n\nisi\n", encoding="utf-8")
    code, rows = run(app)
    assert code == 0
    [warn] = [r for r in rows if r["status"] == "warn" and r["check"] == "mail texts"]
    assert "ack_custmer.txt" in warn["message"]


def test_report_template_with_an_undefined_variable_fails(tmp_path: Path):
    app, copy = with_templates_copy(tmp_path)
    closure = copy / "closure.docx"
    closure.write_bytes(edit_part(closure.read_bytes(), "word/document.xml",
                                  lambda xml: xml.replace(b"{{ date }}",
                                                          b"{{ date }} {{ no_such_var }}", 1)))
    code, rows = run(app)
    assert code == 1
    line = by_check(rows)["template closure"]
    assert line["status"] == "fail" and "no_such_var" in line["message"]
    assert by_check(rows)["template recap"]["status"] == "ok"
    # The forms too, in doctor and in `templates check`.
    ptpp = copy / "ptpp.docx"
    ptpp.write_bytes(edit_part(ptpp.read_bytes(), "word/document.xml",
                               lambda xml: xml.replace(b"{{ ptpp_number }}",
                                                       b"{{ ptpp_number }}{{ nomor_salah }}", 1)))
    code, rows = run(app)
    line = by_check(rows)["template ptpp"]
    assert line["status"] == "fail" and "nomor_salah" in line["message"]
    checked = app.run("templates", "check", "ptpp")
    assert checked.exit_code == 1 and "nomor_salah" in checked.output


def test_database_missing_or_behind_fails_with_what_to_do(tmp_path: Path):
    app = LocalApp(tmp_path)
    db = tmp_path / "var" / "mailproc.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_info SET version = 0")
    code, rows = run(app)
    line = by_check(rows)["database"]
    assert code == 1 and line["status"] == "fail" and "mailproc init" in line["message"]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    code, rows = run(app)
    line = by_check(rows)["database"]
    assert code == 1 and "does not exist" in line["message"]
    assert "mailproc init" in line["message"]
    assert not db.exists()  # doctor does not create it


def test_archive_missing_or_short_of_space(tmp_path: Path, monkeypatch):
    app = LocalApp(tmp_path)
    shutil.rmtree(tmp_path / "archive")
    code, rows = run(app)
    assert code == 1 and by_check(rows)["archive"]["status"] == "fail"
    (tmp_path / "archive").mkdir()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(mailproc.ops.doctor.shutil, "disk_usage",
                        lambda path: usage(10 ** 10, 10 ** 10 - 50 * 2 ** 20, 50 * 2 ** 20))
    code, rows = run(app)
    assert code == 0
    line = by_check(rows)["archive"]
    assert line["status"] == "warn" and "50 MB free" in line["message"]


def test_calendar_without_next_years_data_warns(tmp_path: Path, monkeypatch):
    app = LocalApp(tmp_path)
    year = app.clock().year
    real = mailproc.ops.doctor.holidays_id.indonesian_days_off

    def only_this_year(years, *, cuti_bersama):
        return real(years, cuti_bersama=cuti_bersama) if year in years else {}

    monkeypatch.setattr(mailproc.ops.doctor.holidays_id, "indonesian_days_off", only_this_year)
    code, rows = run(app)
    assert code == 0
    assert by_check(rows)[f"calendar {year}"]["status"] == "ok"
    line = by_check(rows)[f"calendar {year + 1}"]
    assert line["status"] == "warn" and "holidays" in line["message"]


def test_a_broken_configuration_is_one_failing_line(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.config.write_text(app.config.read_text(encoding="utf-8")
                          .replace('name = "PT Contoh Industri"', "name = 42", 1),
                          encoding="utf-8")
    code, rows = run(app)
    assert code == 1
    assert rows == [{"check": "config", "status": "fail", "message": rows[0]["message"]}]
    assert "company.name" in rows[0]["message"]


def test_doctor_never_touches_mail(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver(b"From: a@example.com\r\nSubject: rusak\r\nMessage-ID: <d1@example.com>\r\n\r\n"
                b"Barang rusak.\r\n")
    assert app.run("doctor").exit_code == 0
    assert len(list((tmp_path / "var" / "inbox" / "new").iterdir())) == 1
    assert not list((tmp_path / "var" / "sent" / "new").iterdir())
    assert app.json("complaints", "list") == []
    assert app.json("outbox", "list", "--all") == []


def test_unknown_config_keys_fail(tmp_path: Path):
    app = LocalApp(tmp_path)
    code, rows = run(app)
    assert code == 0 and by_check(rows)["config"]["status"] == "ok"
    app.config.write_text(app.config.read_text(encoding="utf-8")
                          + "\n[databse]\nurl = \"sqlite:///x.db\"\n", encoding="utf-8")
    code, rows = run(app)
    line = by_check(rows)["config"]
    assert code == 1 and line["status"] == "fail"
    assert "unknown section `databse`; did you mean `database`?" in line["message"]
    assert "mailproc.example.toml" in line["message"]
    assert len(rows) > 1  # the other checks still ran
