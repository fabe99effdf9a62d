"""Customer satisfaction after closing (issue #13, item 9), through Dovecot: the closing notice
asks for a rating 1-5; the customer's reply is stored, shown in a new version of the closure
report, told to marketing administration (a low one with the operations manager in copy as an
alert), and the customer is thanked."""

from __future__ import annotations

import io

from conftest import MailEnv
from docfill import fill
from docx import Document
from test_decisions_by_mail import admin_reply, notice
from test_ptpp_forms import DONE, NUMBER, register, reply_to, text, the_form


def _close(mailenv: MailEnv) -> str:
    issued = register(mailenv)
    mailenv.deliver(reply_to(issued, mailenv.addr("qc"), "Selesai.",
                             [("PTPP.docx", fill(the_form(issued), DONE))]))
    mailenv.poll()
    waiting = notice(mailenv, "menunggu evaluasi")
    mailenv.deliver(admin_reply(mailenv, waiting, [
        "EFEKTIF: YA", "CATATAN: tidak terulang pada 3 pengiriman terakhir"], "plain"))
    assert mailenv.poll()["outcomes"] == {"decision": 1}
    return mailenv.customer("budi.santoso", "mitra-pangan.example.com")


def _cells(content: bytes) -> list[str]:
    doc = Document(io.BytesIO(content))
    return [" | ".join(c.text.strip() for c in row.cells) for t in doc.tables for row in t.rows]


def test_a_low_rating_is_stored_reported_and_alerted(mailenv: MailEnv):
    budi = _close(mailenv)
    closing = mailenv.received(budi)[-1]
    assert "telah selesai" in closing["Subject"]
    assert "1 = sangat tidak puas" in text(closing) and "5 = sangat puas" in text(closing)
    report = [m for m in mailenv.received("sales") if "Laporan penutupan" in m["Subject"]
              or "ditutup" in m["Subject"].lower()]
    first_report = [p for m in report for p in m.iter_attachments()
                    if p.get_filename().startswith("Laporan-Penutupan")]
    assert any("Belum dinilai pelanggan" in row for row in
               _cells(first_report[0].get_payload(decode=True)))

    mailenv.deliver(reply_to(closing, f"Budi Santoso <{budi}>",
                             "2\n\nPenanganannya terlalu lama, hampir tiga minggu.\n\nBudi"))
    assert mailenv.poll()["outcomes"] == {"satisfaction": 1}
    shown = mailenv.show(NUMBER)
    assert shown["satisfaction"] == 2
    [rated] = [e for e in shown["events"] if e["kind"] == "satisfaction_rated"]
    assert rated["data"]["rating"] == 2 and rated["data"]["low"] is True
    alert = notice(mailenv, "penilaian pelanggan rendah")
    assert alert["Subject"] == f"[{NUMBER}] PERHATIAN: penilaian pelanggan rendah: 2 (Tidak puas)"
    assert mailenv.addr("ops") in alert["Cc"] and mailenv.addr("sales") in alert["Cc"]
    assert "terlalu lama" in text(alert)
    [updated] = [p for p in alert.iter_attachments()]
    assert updated.get_filename().startswith("Laporan-Penutupan") and "-v2" in \
        updated.get_filename()
    assert any("Kepuasan pelanggan" in row and "2 (Tidak puas)" in row
               for row in _cells(updated.get_payload(decode=True)))
    thanks = mailenv.received(budi)[-1]
    assert "Terima kasih atas penilaian Anda" in thanks["Subject"]
    assert "akan menghubungi Anda" in text(thanks)


def test_a_good_rating_in_words_and_a_reply_without_one(mailenv: MailEnv):
    budi = _close(mailenv)
    closing = mailenv.received(budi)[-1]
    mailenv.deliver(reply_to(closing, budi, "Terima kasih, kami sangat puas dengan "
                                            "penanganannya."))
    assert mailenv.poll()["outcomes"] == {"satisfaction": 1}
    assert mailenv.show(NUMBER)["satisfaction"] == 5
    told = notice(mailenv, "Penilaian pelanggan")
    assert told["Subject"] == f"[{NUMBER}] Penilaian pelanggan: 5 (Sangat puas)"
    assert mailenv.addr("ops") not in (told["Cc"] or "")
    # A later reply with no rating in it is an ordinary follow-up.
    mailenv.deliver(reply_to(closing, budi, "Mohon info jadwal kunjungan teknisi."))
    assert mailenv.poll()["outcomes"] == {"follow_up": 1}
    assert mailenv.show(NUMBER)["satisfaction"] == 5
