"""Repeat complaints at intake (issue #13, item 8), through Dovecot: a colleague of the same
customer company writes about the same batch a few days later; the new complaint is linked to
the first, and marketing administration and the department see it."""

from __future__ import annotations

import io
from email.message import EmailMessage
from email.utils import make_msgid

from conftest import MailEnv
from docx import Document
from test_ptpp_forms import NUMBER, register, text, the_form
from testclock import TestClock


def docx_lines(content: bytes) -> list[str]:
    """Each table row of a form as 'cell | cell | …'."""
    doc = Document(io.BytesIO(content))
    return [" | ".join(c.text.strip() for c in row.cells)
            for table in doc.tables for row in table.rows]


def test_a_colleague_about_the_same_batch_is_a_repeat_complaint(mailenv: MailEnv):
    register(mailenv)  # 01-botol-retak: Budi at mitra-pangan, batch LOT-2611-07
    msg = EmailMessage()
    msg["From"] = f"Sari <{mailenv.customer('sari', 'mitra-pangan.example.com')}>"
    msg["To"] = mailenv.inbox
    msg["Subject"] = "Botol bocor lagi"
    msg["Message-ID"] = make_msgid(domain="mitra-pangan.example.com")
    msg.set_content("Selamat siang,\n\nBotol dari batch LOT-2611-07 yang kami pakai di gudang "
                    "kedua ternyata juga retak di leher, 30 pcs.\n\nSalam,\nSari")
    mailenv.deliver(bytes(msg))
    second = TestClock().number(2)
    assert mailenv.poll()["registered"] == [second]
    shown = mailenv.show(second)
    assert shown["repeat_of"] == NUMBER and mailenv.show(NUMBER)["repeat_of"] is None
    [registered] = [e for e in shown["events"] if e["kind"] == "complaint_registered"]
    assert registered["data"]["repeat_of"] == NUMBER
    [new_notice] = [m for m in mailenv.received("admin")
                    if second in m["Subject"] and "Keluhan baru" in m["Subject"]]
    assert "Keluhan berulang: YA" in text(new_notice) and NUMBER in text(new_notice)
    forms = [m for m in mailenv.received("qc") if second in m["Subject"]]
    lines = docx_lines(the_form(forms[0]))
    assert any(line.startswith("Keluhan berulang") and NUMBER in line for line in lines), lines
