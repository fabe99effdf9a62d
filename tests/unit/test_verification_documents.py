"""The documents of a verification: `ptpp verify --effective` renders the closure report
before the write transaction opens, from the complaint's record as it will read once closed
(`domain.records.closed_effective`); that record must be exactly what the store loads after
the closing, and the report the same one rendered afterwards. The complaint gets there
through the real form round trip, on local Maildirs."""

from __future__ import annotations

import io
import json
import mailbox
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import docx
from appfixture import REPO, LocalApp
from docfill import fill

import mailproc.reports.output
from mailproc import store
from mailproc.bootstrap import build_app
from mailproc.config import load_settings
from mailproc.domain import records
from mailproc.domain.lifecycle import MailKind
from mailproc.ptpp import documents, workflow
from mailproc.reports import jobs as reportjobs
from mailproc.store import reportdata
from mailproc.store.db import current_chain

QC = "qc@contoh.co.id"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _plan(local: LocalApp) -> dict[str, str]:
    return {"correction": "Botol retak dipisahkan dan diganti.",
            "correction_date": local.clock.date_in(1), "correction_by": "Supervisor QC",
            "why_1": "Leher botol retak", "category_6m": "Mesin",
            "root_cause": "Pengendali suhu mesin blow molding 3 aus",
            "action_1_cause": "Pengendali suhu aus",
            "action_1_corrective": "Ganti pengendali suhu mesin 3",
            "action_1_preventive": "Cek suhu tiap awal shift", "action_1_pic": "Kepala Produksi",
            "action_1_target": local.clock.date_in(14),
            "completion_date": local.clock.date_in(0),
            "completion_evidence": "Foto pengendali baru"}


def _reply(issued: mailbox.MaildirMessage, form: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"] = QC, issued["From"]
    msg["Subject"] = "RE: " + issued["Subject"]
    msg["Message-ID"] = make_msgid(domain="contoh.co.id")
    msg["In-Reply-To"] = msg["References"] = issued["Message-ID"]
    msg.set_content("Terlampir, tindakan sudah selesai.")
    msg.add_attachment(form, maintype="application", subtype="octet-stream",
                       filename="PTPP.docx")
    return bytes(msg)


def implemented(tmp_path: Path) -> tuple[LocalApp, str]:
    local = LocalApp(tmp_path)
    local.deliver((REPO / "examples" / "inbox" / "01-botol-retak.eml").read_bytes())
    [number] = local.poll()["registered"]
    [issued] = [m for m in local.sent() if m["X-Mailproc-Kind"] == MailKind.PTPP_ISSUE] or [
        m for m in local.sent() if "PTPP untuk Bagian" in m["Subject"]]
    [part] = [p for p in issued.walk() if (p.get_filename() or "").endswith(".docx")]
    local.deliver(_reply(issued, fill(part.get_payload(decode=True), _plan(local))))
    assert local.poll()["outcomes"] == {"ptpp_implemented": 1}
    return local, number


def texts(content: bytes) -> list[str]:
    d = docx.Document(io.BytesIO(content))
    return [p.text for p in d.paragraphs] + [
        cell.text for t in d.tables for row in t.rows for cell in row.cells]


def form_text(content: bytes) -> list[str]:
    """Every paragraph's text, inside tables and content controls too (python-docx's
    `Paragraph.text` leaves out content controls, where a form's values live)."""
    body = docx.Document(io.BytesIO(content)).element.body
    return ["".join(t.text or "" for t in p.iter(W + "t")) for p in body.iter(W + "p")]


def test_the_closure_report_is_rendered_before_the_transaction_from_the_closed_record(
        tmp_path: Path, monkeypatch):
    local, number = implemented(tmp_path)
    settings = load_settings(local.config, {})
    store.open_database(settings.database_url)
    app = build_app(settings, clock=local.clock)
    [before] = reportdata.load_records(settings, numbers=[number])

    inside: list[bool] = []
    real = mailproc.reports.output.render_closure

    def spy(*args, **kwargs):
        inside.append(current_chain() is not None)
        return real(*args, **kwargs)

    monkeypatch.setattr(mailproc.reports.output, "render_closure", spy)
    workflow.verify(app, number, effective=True, note="  Tidak ada keluhan serupa 1 bulan ",
                    actor="rina", source="test", verifier="Rina (Adm. Marketing)")
    assert inside == [False]  # rendered once, before the write transaction

    [after] = reportdata.load_records(settings, numbers=[number])
    assert after.status == "closed" and after.cycles[-1].verification_note
    assert records.closed_effective(before, note="  Tidak ada keluhan serupa 1 bulan ",
                                    verifier="Rina (Adm. Marketing)",
                                    at=after.closed_at) == after  # the clock ticks per call

    # The report the closure mail carries is the one the closed complaint renders now.
    [doc] = [d for d in store.Document.select() if d.form == "closure"]
    mailed = app.archive.read(doc.archive_path)
    _, again = reportjobs.render_closure(app, number)
    assert texts(mailed) == texts(again)
    assert any("Tidak ada keluhan serupa 1 bulan" in t for t in texts(mailed))
    [mail] = store.OutgoingMail.select().where(
        store.OutgoingMail.kind == MailKind.CLOSURE_REPORT)
    assert json.loads(mail.attachments)[0] == doc.archive_path


def test_a_refused_verification_renders_nothing(tmp_path: Path, monkeypatch):
    local, number = implemented(tmp_path)
    settings = load_settings(local.config, {})
    store.open_database(settings.database_url)
    app = build_app(settings, clock=local.clock)
    calls: list[int] = []
    monkeypatch.setattr(mailproc.reports.output, "render_closure",
                        lambda *a, **k: calls.append(1))
    result = local.run("ptpp", "verify", number, "--effective", "--note", " ")
    assert result.exit_code == 1 and "evaluation note is required" in result.output
    assert calls == [] and store.complaint_by_number(number).status == "implemented"
    assert app.settings.database_url  # the app was opened on the same database


def test_the_next_cycles_form_is_rendered_before_the_transaction(tmp_path: Path,
                                                                  monkeypatch):
    """Not effective: cycle 2's form, with cycle 1's analysis and the evaluation note on it,
    is rendered before the write transaction and reads as the stored cycle 2 renders now."""
    local, number = implemented(tmp_path)
    settings = load_settings(local.config, {})
    store.open_database(settings.database_url)
    app = build_app(settings, clock=local.clock)
    inside: list[bool] = []
    real = documents.render

    def spy(*args, **kwargs):
        inside.append(current_chain() is not None)
        return real(*args, **kwargs)

    monkeypatch.setattr(documents, "render", spy)
    workflow.verify(app, number, effective=False, actor="rina", source="test",
                    note=" Keluhan serupa datang lagi minggu ini ")
    assert inside == [False]
    complaint = store.complaint_by_number(number)
    assert (complaint.status, workflow.current_ptpp(complaint).cycle) == ("issued", 2)
    [doc] = [d for d in store.Document.select() if d.form == "ptpp" and d.cycle == 2]
    sent = app.archive.read(doc.archive_path)
    _, again = documents.render_ptpp(app, complaint, local.clock())
    assert form_text(sent) == form_text(again)
    joined = "\n".join(form_text(sent))
    assert "Keluhan serupa datang lagi minggu ini" in joined
    assert "Pengendali suhu mesin blow molding 3 aus" in joined  # cycle 1's root cause
