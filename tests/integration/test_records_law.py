"""Records kept as the law asks (issue #13, item 11), end to end through Dovecot: a complaint
closed by mail, then its raw mail purged past the retention period (a dry run changes
nothing; the register row, the forms and the audit chain stay and verify); the customer's data
exported as a zip; the customer erased (their address and name gone from every row, the
chain still verifying)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from conftest import MailEnv
from test_ptpp_forms import NUMBER, reply_to
from test_satisfaction import _close

from mailproc import store

FIVE_YEARS = (5 * 365 + 2) * 24 * 3600


def archived(mailenv: MailEnv) -> set[str]:
    root = mailenv.root / "archive"
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and ".staging" not in p.parts}


def audit(mailenv: MailEnv) -> dict:
    result = mailenv.run("audit", "verify", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["ok"], report
    return report


def register_row(mailenv: MailEnv) -> dict[str, str]:
    out = mailenv.root / f"register-{len(list(mailenv.root.glob('register-*')))}.csv"
    result = mailenv.run("register", "export", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    [row] = [r for r in rows if NUMBER in r.values()]
    return row


def latest_allowed(mailenv: MailEnv) -> str:
    today = mailenv.clock.today()
    return today.replace(year=today.year - 5).isoformat()


def rows_mentioning(mailenv: MailEnv, *needles: str) -> list[tuple[str, tuple]]:
    """Every row of every table that holds one of `needles` (case ignored)."""
    store.open_database(mailenv.database)
    try:
        return [(model.__name__, row) for model in store.MODELS
                for row in model.select().tuples()
                if any(n.lower() in str(v).lower() for v in row for n in needles)]
    finally:
        store.db.close()


def test_purge_past_retention_keeps_the_record_and_the_chain(mailenv: MailEnv):
    _close(mailenv)
    shown = mailenv.show(NUMBER)
    assert shown["status"] == "closed"
    raw = {m["archive"] for m in shown["messages"] if m["archive"]}
    assert len(raw) == 3  # the complaint, the department's form, the verification
    received = {d["archive"] for d in shown["documents"] if d["origin"] == "received"}
    photo = {a["archive"] for a in shown["attachments"]} - received
    assert len(photo) == 1 and received and received < {a["archive"]
                                                         for a in shown["attachments"]}
    documents = {d["archive"] for d in shown["documents"]}
    row_before = register_row(mailenv)

    # Inside the retention period: refused, with the date that would be allowed.
    refused = mailenv.run("records", "purge", "--before", mailenv.clock.today().isoformat())
    assert refused.exit_code == 1 and "inside the retention period" in refused.output
    assert f"--before {latest_allowed(mailenv)}" in refused.output

    mailenv.clock.advance(FIVE_YEARS)
    before = archived(mailenv)
    dry = mailenv.run("records", "purge", "--before", latest_allowed(mailenv), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert NUMBER in dry.output and "would remove 4 file(s)" in dry.output
    assert "nothing changed" in dry.output
    assert archived(mailenv) == before and mailenv.show(NUMBER) == shown

    done = mailenv.run("records", "purge", "--before", latest_allowed(mailenv), "--json")
    assert done.exit_code == 0, done.output
    [purged] = json.loads(done.stdout)["complaints"]
    assert purged["number"] == NUMBER
    assert {f["path"] for f in purged["files"]} == raw | photo
    left = archived(mailenv)
    assert not (raw | photo) & left
    assert documents <= left  # the forms (issued and received back) and the closure report
    after = mailenv.show(NUMBER)
    assert after["status"] == "closed" and after["ptpps"] == shown["ptpps"]
    assert all(m["archive"] is None for m in after["messages"])
    assert [m["from"] for m in after["messages"]] == [m["from"] for m in shown["messages"]]
    assert register_row(mailenv) == row_before
    report = audit(mailenv)
    assert report["files_removed"] == 4 and report["file_problems"] == []
    tomb = [e for e in after["events"] if e["kind"] == "records_purged"]
    assert len(tomb) == 1 and tomb[0]["data"]["reason"] == "retention"


def test_export_then_erase_the_customer(mailenv: MailEnv, tmp_path: Path):
    budi = _close(mailenv)
    closing = mailenv.received(budi)[-1]
    mailenv.deliver(reply_to(closing, f"Budi Santoso <{budi}>",
                             "4\n\nSudah baik, terima kasih.\n\nBudi Santoso\nCV Mitra Pangan"))
    assert mailenv.poll()["outcomes"] == {"satisfaction": 1}
    shown = mailenv.show(NUMBER)

    target = tmp_path / "budi.zip"
    result = mailenv.run("customer", "export", budi, "--output", str(target), "--json")
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    assert exported["complaints"] == [NUMBER]
    with zipfile.ZipFile(target) as zf:
        names = set(zf.namelist())
        data = json.loads(zf.read("data.json"))
        [first_raw] = [m["archive"] for m in shown["messages"]
                       if m["kind"] == "complaint"]
        assert b"Budi Santoso" in zf.read(f"arsip/{first_raw}")
    assert data["customer"]["email"] == budi and data["customer"]["name"] == "Budi Santoso"
    [complaint] = data["complaints"]
    assert complaint["satisfaction"] == 4 and complaint["cycles"][0]["root_cause"]
    assert {f"arsip/{d['archive']}" for d in shown["documents"]} <= names
    assert {f"arsip/{m['archive']}" for m in shown["messages"] if m["archive"]} <= names
    assert any(n.endswith("foto-retak.png") for n in names)
    assert any("telah selesai" in m["subject"] for m in data["mail_sent_to_customer"])

    documents = {d["archive"] for d in shown["documents"]}
    # Their company is in their signature, not in their record: named with --also.
    erased = mailenv.run("customer", "erase", budi, "--also", "CV Mitra Pangan", "--yes",
                         "--json")
    assert erased.exit_code == 0, erased.output
    report = json.loads(erased.stdout)
    name = report["pseudonym"]
    assert report["complaints"] == [NUMBER] and report["files_removed"] == 5
    left = rows_mentioning(mailenv, budi, "Budi Santoso", "Mitra Pangan")
    assert left == [], "\n".join(map(str, left))
    after = mailenv.show(NUMBER)
    assert after["customer"] is None and after["customer_name"] == name
    assert f"Terima kasih,\n{name}" in after["description"]
    assert "15 pcs retak di bagian leher" in after["description"]  # the technical content
    assert after["ptpps"] == shown["ptpps"] and after["satisfaction"] == 4
    assert documents <= archived(mailenv)  # forms kept (they still show the name)
    assert not {m["archive"] for m in shown["messages"] if m["archive"]} & archived(mailenv)
    assert register_row(mailenv)["Pelanggan"] == name
    [event] = [e for e in rows_mentioning(mailenv, "customer_erased")]
    assert budi not in str(event) and name in str(event)
    chain = audit(mailenv)
    assert chain["events_redacted"] == report["events_redacted"] > 0
    assert mailenv.run("customer", "erase", budi, "--yes").exit_code == 3
