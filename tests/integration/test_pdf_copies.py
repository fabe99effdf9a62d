"""PDF copies (issue #13, item 10), with the real LibreOffice and through Dovecot: sales &
marketing get the analysis and plan and the closure report as Word files with a PDF beside
each; the PDFs are archived next to them and named in the audit chain. Without LibreOffice the
mail goes with the Word files alone and the log says so once."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess

import pytest
from conftest import MailEnv
from docfill import fill
from test_decisions_by_mail import admin_reply, notice
from test_ptpp_forms import DONE, NUMBER, PLAN, register, reply_to, the_form


def _names(message) -> list[str]:
    return sorted(p.get_filename() for p in message.iter_attachments())


def _pdf_text(message, name: str) -> str:
    [part] = [p for p in message.iter_attachments() if p.get_filename() == name]
    data = part.get_payload(decode=True)
    assert data.startswith(b"%PDF")
    out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    return out.stdout.decode("utf-8", "replace")


def test_sales_get_pdf_copies_of_what_they_read(mailenv: MailEnv):
    if shutil.which("soffice") is None and shutil.which("libreoffice") is None:
        pytest.fail("LibreOffice is not installed: run .ci/install", pytrace=False)
    mailenv.pdf_copies = True
    mailenv.write_config()
    issued = register(mailenv)
    form = the_form(issued)
    mailenv.deliver(reply_to(issued, mailenv.addr("qc"), "Terlampir.",
                             [("PTPP.docx", fill(form, PLAN))]))
    mailenv.poll()
    [plan] = mailenv.received("sales")
    assert _names(plan) == ["PTPP.docx", "PTPP.pdf"]
    assert "Pengendali suhu mesin blow molding 3 aus" in _pdf_text(plan, "PTPP.pdf")
    mailenv.deliver(reply_to(issued, mailenv.addr("qc"), "Selesai.",
                             [("PTPP.docx", fill(form, DONE))]))
    mailenv.poll()
    waiting = notice(mailenv, "menunggu evaluasi")
    mailenv.deliver(admin_reply(mailenv, waiting, [
        "EFEKTIF: YA", "CATATAN: tidak terulang pada 3 pengiriman terakhir"], "plain"))
    mailenv.poll()
    [closed] = [m for m in mailenv.received("sales") if m is not plan
                and any(n.startswith("Laporan-Penutupan") for n in _names(m))]
    names = _names(closed)
    [report_pdf] = [n for n in names if n.startswith("Laporan-Penutupan") and n.endswith(".pdf")]
    assert report_pdf.removesuffix(".pdf") + ".docx" in names
    assert NUMBER in _pdf_text(closed, report_pdf)
    # Archived beside the Word files and named in the chain: audit verify reads them back.
    verified = json.loads(mailenv.run("audit", "verify", "--json").stdout)
    assert verified["ok"] is True
    archived = [f["path"] for e in mailenv.show(NUMBER)["events"]
                if e["kind"] == "files_archived" for f in e["data"]["files"]]
    assert any(p.endswith(report_pdf) for p in archived), archived


def test_without_libreoffice_word_only_and_one_line(mailenv: MailEnv,
                                                    caplog: pytest.LogCaptureFixture):
    import mailproc.outgoing.outbox as outbox

    mailenv.pdf_copies = True
    mailenv.write_config(extra='[documents.closure]\ntemplate = "closure.docx"\n')
    text = mailenv.config.read_text().replace(
        "pdf_copies = true", 'pdf_copies = true\nlibreoffice = "/nonexistent/soffice"')
    mailenv.config.write_text(text)
    outbox._pdf_unavailable_told = False  # the once-a-process line, for this test
    issued = register(mailenv)
    caplog.set_level(logging.WARNING, logger="mailproc.outgoing.outbox")
    mailenv.deliver(reply_to(issued, mailenv.addr("qc"), "Terlampir.",
                             [("PTPP.docx", fill(the_form(issued), PLAN))]))
    mailenv.poll()
    [plan] = mailenv.received("sales")
    assert _names(plan) == ["PTPP.docx"]
    lines = [r.getMessage() for r in caplog.records if "LibreOffice is not installed" in
             r.getMessage()]
    assert len(lines) == 1
    doctor = json.loads(mailenv.run("doctor", "--json").stdout)
    [check] = [c for c in doctor if c["check"] == "pdf copies"]
    assert check["status"] == "warn" and "/nonexistent/soffice" in check["message"]
