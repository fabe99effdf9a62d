"""Marketing administration decides by replying, from a plain-text client and from Outlook
(HTML only, the original quoted below); through Dovecot and the SMTP server."""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from conftest import MailEnv
from docfill import fill
from test_ptpp_forms import DONE, NUMBER, register, reply_to, text, the_form


def admin_reply(mailenv: MailEnv, original: EmailMessage, lines: list[str], style: str,
                sender: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender or f"Rina <{mailenv.addr('admin')}>"
    msg["To"] = original["From"]
    msg["Subject"] = "RE: " + original["Subject"]
    msg["Message-ID"] = make_msgid(domain="contoh.co.id")
    msg["In-Reply-To"] = original["Message-ID"]
    msg["References"] = original["Message-ID"]
    quoted = text(original)
    if style == "plain":
        body = "\n".join(lines) + "\n\nRina\n\nOn Thu, 26 Nov 2026 at 09:00, Sistem wrote:\n"
        body += "".join(f"> {line}\n" for line in quoted.splitlines())
        body += "> TOLAK: ini kutipan, bukan keputusan\n"
        msg.set_content(body)
    else:  # Outlook: HTML only, the original below a From/Sent block, not '>'-quoted
        mine = "".join(f"<p class=MsoNormal>{html.escape(line)}</p>" for line in lines)
        original_html = "<br>".join(html.escape(line) for line in quoted.splitlines())
        msg.set_content(
            "<html><body><div class=WordSection1>" + mine +
            "<p class=MsoNormal>&nbsp;</p><p class=MsoNormal>Salam,<br>Rina</p>"
            "<div style='border:none;border-top:solid #E1E1E1 1.0pt'>"
            f"<p class=MsoNormal><b>From:</b> Sistem &lt;{mailenv.inbox}&gt;<br>"
            "<b>Sent:</b> Thursday, November 26, 2026 9:00 AM<br>"
            f"<b>To:</b> {mailenv.addr('admin')}<br><b>Subject:</b> {original['Subject']}</p>"
            "</div><p class=MsoNormal>" + original_html +
            "<br>TOLAK: ini kutipan, bukan keputusan</p></div></body></html>",
            subtype="html")
    return bytes(msg)


def notice(mailenv: MailEnv, words: str) -> EmailMessage:
    return [m for m in mailenv.received("admin") if words in m["Subject"]][-1]


@pytest.mark.parametrize("style", ["plain", "outlook"])
def test_assign_from_triage_then_notes_and_requests(mailenv: MailEnv, style: str):
    mailenv.deliver(mailenv.sample("04-layanan.eml"))
    mailenv.poll()
    triage = notice(mailenv, "Keluhan baru")
    assert "BAGIAN:" in text(triage) and "TOLAK:" in text(triage)  # how to decide
    mailenv.deliver(admin_reply(mailenv, triage, ["BAGIAN: Gudang"], style))
    assert mailenv.poll()["outcomes"] == {"decision": 1}
    shown = mailenv.show(NUMBER)
    assert (shown["status"], shown["department"]) == ("issued", "gudang")
    assert [e["actor"] for e in shown["events"] if e["kind"] == "department_assigned"] == [
        mailenv.addr("admin")]
    assert len(mailenv.received("gudang")) == 1
    confirmation = notice(mailenv, "Keputusan dicatat")
    assert "Bagian ditetapkan: Gudang" in text(confirmation)

    mailenv.deliver(admin_reply(mailenv, triage, [
        "CATATAN: pelanggan minta dihubungi sore hari", "KIRIM ANALISIS: YA",
        "TANGGAPAN: sudah ditelepon, pelanggan menerima penjelasan", "KATEGORI: MAYOR"],
        style))
    assert mailenv.poll()["outcomes"] == {"decision": 1}
    shown = mailenv.show(NUMBER)
    assert shown["send_analysis_to_customer"] is True
    assert shown["severity"] == "mayor"  # a service complaint starts as Minor
    assert "Kategori PTPP ditetapkan: Mayor." in text(notice(mailenv, "Keputusan dicatat"))
    assert shown["status"] == "issued"  # the quoted "TOLAK:" was ignored
    kinds = [e["kind"] for e in shown["events"]]
    assert {"note", "send_analysis_set", "response_recorded", "severity_set"} <= set(kinds)
    assert "complaint_rejected" not in kinds


@pytest.mark.parametrize("style", ["plain", "outlook"])
def test_effectiveness_by_reply(mailenv: MailEnv, style: str):
    issued = register(mailenv)
    mailenv.deliver(reply_to(issued, mailenv.addr("qc"), "Selesai.",
                             [("PTPP.docx", fill(the_form(issued), DONE))]))
    mailenv.poll()
    waiting = notice(mailenv, "menunggu evaluasi")
    assert "EFEKTIF: YA" in text(waiting)
    # Without the evaluation note: refused, nothing changes.
    mailenv.deliver(admin_reply(mailenv, waiting, ["EFEKTIF: YA"], style))
    assert mailenv.poll()["outcomes"] == {"decision_refused": 1}
    assert "catatan evaluasi wajib diisi" in text(notice(mailenv, "belum dapat dijalankan"))
    assert mailenv.show(NUMBER)["status"] == "implemented"
    mailenv.deliver(admin_reply(mailenv, waiting, [
        "EFEKTIF: YA", "CATATAN: tidak terulang pada 3 pengiriman terakhir"], style))
    assert mailenv.poll()["outcomes"] == {"decision": 1}
    shown = mailenv.show(NUMBER)
    assert shown["status"] == "closed"
    assert shown["ptpps"][0]["verification_note"] == \
        "tidak terulang pada 3 pengiriman terakhir"
    budi = mailenv.customer("budi.santoso", "mitra-pangan.example.com")
    assert "telah selesai" in mailenv.received(budi)[-1]["Subject"]


def test_rejection_refusals_and_unknown_words(mailenv: MailEnv):
    mailenv.deliver(mailenv.sample("04-layanan.eml"))
    mailenv.poll()
    triage = notice(mailenv, "Keluhan baru")
    # From sales (not marketing administration): refused and recorded.
    mailenv.deliver(admin_reply(mailenv, triage, ["TOLAK: spam"], "plain",
                                sender=mailenv.addr("sales")))
    assert mailenv.poll()["outcomes"] == {"decision_refused": 1}
    assert "hanya dapat dikirim oleh Administrasi Marketing" in text(
        mailenv.received("sales")[-1])
    shown = mailenv.show(NUMBER)
    assert shown["status"] == "triage"
    assert "decision_refused" in [e["kind"] for e in shown["events"]]
    # A misspelt word: the reply lists the accepted ones.
    mailenv.deliver(admin_reply(mailenv, triage, ["BAGAIN: qc"], "plain"))
    assert mailenv.poll()["outcomes"] == {"decision_refused": 1}
    answer = text(notice(mailenv, "belum dapat dijalankan"))
    assert "BAGAIN: qc" in answer and "TANYA PELANGGAN:" in answer
    # An unknown department, then a rejection that works.
    mailenv.deliver(admin_reply(mailenv, triage, ["BAGIAN: laboratorium"], "plain"))
    mailenv.poll()
    assert "tidak dikenal; pilihan:" in text(notice(mailenv, "belum dapat dijalankan"))
    mailenv.deliver(admin_reply(mailenv, triage, ["TOLAK: bukan keluhan, pertanyaan harga"],
                                "outlook"))
    assert mailenv.poll()["outcomes"] == {"decision": 1}
    assert mailenv.show(NUMBER)["status"] == "rejected"


def test_clarification_round_trip(mailenv: MailEnv):
    mailenv.deliver(mailenv.sample("02-terlambat.eml"))
    mailenv.poll()
    sari = mailenv.customer("sari", "tokosejahtera.example.com")
    first = notice(mailenv, "Keluhan baru")
    mailenv.deliver(admin_reply(mailenv, first, [
        "TANYA PELANGGAN: Mohon kirim nomor surat jalan pengiriman tersebut."], "outlook"))
    assert mailenv.poll()["outcomes"] == {"decision": 1}
    question = mailenv.received(sari)[-1]
    assert question["Subject"] == f"[{NUMBER}] Pertanyaan mengenai keluhan Anda"
    assert "nomor surat jalan" in text(question)
    answer = EmailMessage()
    answer["From"] = sari
    answer["To"] = question["From"]
    answer["Subject"] = "Re: jawaban"
    answer["Message-ID"] = make_msgid(domain="example.com")
    answer["In-Reply-To"] = question["Message-ID"]
    answer.set_content("Surat jalan SJ-26-1190.")
    mailenv.deliver(bytes(answer))
    assert mailenv.poll()["outcomes"] == {"follow_up": 1}
    follow = notice(mailenv, "Tanggapan lanjutan")
    assert "SJ-26-1190" in text(follow)
