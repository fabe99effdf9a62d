"""Reports end to end on local Maildirs: the closure report when a PTPP closes, the digest (HTML
and text agree), the monthly recap (.docx with the numbers, .xlsx), the register export."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import openpyxl
from appfixture import LocalApp

from mailproc import store
from mailproc.bootstrap import App, build_app
from mailproc.config import load_settings
from mailproc.domain import states
from mailproc.intake import services
from mailproc.ptpp import workflow
from mailproc.reports import jobs as reportjobs

WIB = ZoneInfo("Asia/Jakarta")
PLAN = {"root_cause": "Suhu cetakan tidak stabil", "category_6m": "Mesin",
        "why_1": "Botol retak", "action_1_cause": "Pengendali aus",
        "action_1_corrective": "Ganti pengendali", "action_1_preventive": "Cek tiap shift",
        "action_1_pic": "Kepala Produksi", "action_1_target": "2026-10-20",
        "completion_date": "2026-10-16", "completion_evidence": "Foto"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def setup(tmp_path: Path) -> tuple[LocalApp, App, Clock]:
    local = LocalApp(tmp_path)
    clock = Clock(datetime(2026, 10, 5, 9, 0, tzinfo=WIB))
    settings = load_settings(local.config, {})
    store.open_database(settings.database_url)
    return local, build_app(settings, clock=clock), clock


def register(app: App, when: datetime, text: str, customer: str) -> str:
    new = services.NewComplaint(channel="telepon", received_at=when, customer_email="",
                                customer_name=customer, subject=text[:30], description=text)
    return services.register_manual(app, new, actor="rina").number


def implement(number: str) -> None:
    """Fast-forward a PTPP to 'implemented' with an accepted plan (what a filled form does)."""
    c = store.complaint_by_number(number)
    store.Ptpp.update(plan=json.dumps(PLAN), root_cause=PLAN["root_cause"],
                      status=states.IMPLEMENTED).where(store.Ptpp.complaint == c).execute()
    store.Complaint.update(status=states.IMPLEMENTED).where(store.Complaint.id == c.id).execute()


def test_closure_report_digest_recap_and_register(tmp_path: Path):
    local, app, clock = setup(tmp_path)
    a = register(app, clock.now, "Botol retak di leher, batch LOT-1", "CV Maju & Jaya")
    b = register(app, datetime(2026, 10, 7, 10, 0, tzinfo=WIB), "Kiriman terlambat 3 hari",
                 "Toko Sinar")
    c = register(app, datetime(2026, 10, 8, 11, 0, tzinfo=WIB), "Faktur double tagih",
                 "PT <Bangun>")
    implement(a)
    clock.now = datetime(2026, 10, 19, 10, 0, tzinfo=WIB)
    workflow.verify(app, a, effective=True, note="Tidak terulang", actor="rina", source="t")
    workflow.reject(app, c, reason="bukan keluhan", actor="rina", source="t")

    # The closure report went to sales & marketing with the Word report and the final form.
    closure = store.OutgoingMail.get(store.OutgoingMail.kind == "closure_report")
    names = [Path(p).name for p in json.loads(closure.attachments)]
    assert names[0].startswith("Laporan-Penutupan-") and names[1].startswith("PTPP-")
    report = docx.Document(app.archive.path(json.loads(closure.attachments)[0]))
    text = "\n".join(p.text for p in report.paragraphs) + "\n".join(
        cell.text for t in report.tables for row in t.rows for cell in row.cells)
    assert "Suhu cetakan tidak stabil" in text and "Ganti pengendali" in text
    assert "hari kerja" in text

    # The digest: the same facts in the HTML and the text part.
    clock.now = datetime(2026, 10, 20, 8, 0, tzinfo=WIB)  # Tuesday
    assert reportjobs.send_digest(app, clock.now)
    digest = store.OutgoingMail.get(store.OutgoingMail.kind == "digest")
    assert digest.body_html.startswith("<!DOCTYPE html>")
    for fact in (b, "Toko Sinar", "Terlambat".upper(), a):
        assert fact in digest.body_text
    assert b in digest.body_html and a in digest.body_html
    assert "PT &lt;Bangun&gt;" not in digest.body_html  # rejected: not in the digest
    clock.now = datetime(2026, 10, 24, 8, 0, tzinfo=WIB)  # Saturday: none
    assert not reportjobs.send_digest(app, clock.now)

    # The recap of October, by the CLI.
    out = tmp_path / "laporan"
    result = local.run("report", "recap", "--month", "2026-10", "--out", str(out))
    assert result.exit_code == 0, result.output
    recap = docx.Document(out / "Rekapitulasi-Keluhan-2026-10.docx")
    cells = [cell.text for t in recap.tables for row in t.rows for cell in row.cells]
    assert a in cells and b in cells and "CV Maju & Jaya" in cells
    assert len(recap.inline_shapes) == 8  # the charts
    sheet = openpyxl.load_workbook(out / "Register-Keluhan-2026-10.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][1] == "No. PTPP" and len(rows) == 4
    assert rows[1][1] == a and rows[1][10] == "Y" and rows[3][10] == "T"

    # The master register, every complaint, as CSV.
    csv_path = tmp_path / "register.csv"
    result = local.run("register", "export", "--format", "csv", "--out", str(csv_path))
    assert result.exit_code == 0, result.output
    table = list(csv.reader(io.StringIO(csv_path.read_bytes().decode("utf-8-sig"))))
    assert [r[1] for r in table[1:]] == [a, b, c]
    assert table[3][16] == states.LABELS_ID[states.REJECTED]

    status = json.loads(local.run("report", "status", "--json").stdout)
    assert status["open_total"] == 1
