"""Clocks for every waiting step (issue #13, item 5): triage and the effectiveness check have
due dates with reminders and escalation; the automatic acknowledgement counts as the first
response only when the company says so; a forwarded complaint's clock starts when the
customer wrote. On local mailboxes with an injected clock (the verification clock through
Dovecot is in tests/integration/test_clocks_mail.py)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from appfixture import REPO, LocalApp

WIB = ZoneInfo("Asia/Jakarta")
DAYS_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
             "September", "Oktober", "November", "Desember")


def _bodies(app: LocalApp) -> list[tuple[str, str, str]]:
    """(To, Cc, Subject) of every mail sent, and the text, flattened."""
    out = []
    for m in app.sent():
        text = "".join(p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8")
                       for p in m.walk() if p.get_content_type() == "text/plain")
        out.append((f"{m['To']} {m['Cc'] or ''}", str(m["Subject"]), text))
    return out


def test_a_complaint_left_in_triage_reminds_marketing_then_escalates(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver((REPO / "examples" / "inbox" / "04-layanan.eml").read_bytes())
    [number] = app.poll()["registered"]
    assert app.json("complaints", "show", number)["status"] == "triage"
    soon = app.json("remind")  # due tomorrow, the next working day: a reminder, no escalation
    assert soon["marketing"] == [number] and soon["escalations"] == []
    assert any("Pengingat: penentuan bagian" in s for _, s, _ in _bodies(app))
    app.clock.advance(2 * 86400)  # Tuesday 09:00 → Thursday 09:00: a working day late
    result = app.json("remind")
    assert result["marketing"] == [number] and number in result["escalations"]
    mails = _bodies(app)
    [(to, subject, text)] = [m for m in mails if "Terlambat: penentuan bagian" in m[1]]
    assert "admin.marketing@contoh.co.id" in to
    assert "BAGIAN: <nama bagian>" in text and "terlambat" in text
    assert any("Eskalasi" in s and "Administrasi Marketing" in s
               and "manager.operasional@contoh.co.id" in to for to, s, _ in mails)
    again = app.json("remind")  # the same day: once
    assert again["marketing"] == [] and number not in again["escalations"]


def test_without_the_automatic_acknowledgement_a_person_must_respond(tmp_path: Path):
    app = LocalApp(tmp_path, extra="")
    text = app.config.read_text(encoding="utf-8")
    assert "auto_ack_counts_as_first_response = true" in text
    app.config.write_text(text.replace("auto_ack_counts_as_first_response = true",
                                       "auto_ack_counts_as_first_response = false"))
    app.deliver((REPO / "examples" / "inbox" / "01-botol-retak.eml").read_bytes())
    [number] = app.poll()["registered"]
    shown = app.json("complaints", "show", number)
    assert shown["first_response_at"] is None  # the acknowledgement went, but does not count
    assert any("tidak dihitung sebagai tanggapan pertama" in t for _, _, t in _bodies(app))
    app.clock.advance(2 * 86400)
    assert app.json("remind")["no_response"] == [number]
    said = app.run("complaints", "respond", number, "Ditelepon oleh Rina", "--by", "rina")
    assert said.exit_code == 0, said.output
    assert app.json("complaints", "show", number)["first_response_at"] is not None


def _forward(app: LocalApp, written: datetime, *, attached: bool) -> bytes:
    """Dewi in sales forwards Hendra's complaint, written at `written`."""
    msg = EmailMessage()
    msg["From"] = "Dewi Lestari <sales@contoh.co.id>"
    msg["To"] = "keluhan@contoh.co.id"
    msg["Subject"] = "Fwd: Salah kirim ukuran tutup botol"
    msg["Message-ID"] = f"<fwd-{attached}-{written.timestamp()}@contoh.co.id>"
    original = ("Pak,\n\nTutup botol yang datang kemarin salah ukuran: kami pesan 38 mm tetapi "
                "yang dikirim 28 mm. Mohon ditukar.\n\nHendra")
    if attached:
        inner = EmailMessage()
        inner["From"] = "Hendra Wijaya <hendra@kopi-nusantara.example.com>"
        inner["To"] = "sales@contoh.co.id"
        inner["Subject"] = "Salah kirim ukuran tutup botol"
        inner["Date"] = format_datetime(written)
        inner.set_content(original)
        msg.set_content("Mohon diproses.\n\nDewi")
        msg.add_attachment(inner)
    else:
        local = written.astimezone(WIB)
        sent = (f"{DAYS_ID[local.weekday()]}, {local.day} {MONTHS_ID[local.month - 1]} "
                f"{local.year} {local:%H.%M}")
        msg.set_content("Mohon diproses.\n\nDewi\n\n---------- Pesan terusan ---------\n"
                        "Dari: Hendra Wijaya <hendra@kopi-nusantara.example.com>\n"
                        f"Tanggal: {sent}\nSubjek: Salah kirim ukuran tutup botol\n"
                        f"Kepada: <sales@contoh.co.id>\n\n{original}\n")
    return bytes(msg)


def _received(app: LocalApp, number: str) -> datetime:
    return datetime.fromisoformat(app.json("complaints", "show", number)["received_at"])


def test_a_forwarded_complaint_is_dated_when_the_customer_wrote(tmp_path: Path):
    app = LocalApp(tmp_path)
    now = app.clock()
    earlier = (now - timedelta(days=2)).replace(second=0, microsecond=0)
    app.deliver(_forward(app, earlier, attached=False))  # Indonesian Gmail, inline
    app.deliver(_forward(app, earlier - timedelta(hours=5), attached=True))
    app.deliver(_forward(app, now + timedelta(days=3), attached=True))  # a wrong clock
    inline, attached, future = app.poll()["registered"]
    assert _received(app, inline) == earlier
    assert _received(app, attached) == earlier - timedelta(hours=5)
    assert _received(app, future) <= app.clock()  # never later than the forward
    shown = app.json("complaints", "show", inline)
    assert shown["received_by"] == "sales@contoh.co.id"
    # Its first-response clock started two days ago: already overdue.
    assert datetime.fromisoformat(shown["first_response_due_at"]) < app.clock()
    db = sqlite3.connect(tmp_path / "var" / "mailproc.db")
    try:
        [(data,)] = db.execute("select data from event where kind = 'complaint_registered' "
                               "order by id limit 1")
    finally:
        db.close()
    assert json.loads(data)["channel"] == "email"


def test_mail_is_dated_in_the_company_time_zone(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver((REPO / "examples" / "inbox" / "01-botol-retak.eml").read_bytes())
    app.poll()
    dates = {str(m["Date"])[-5:] for m in app.sent()}
    assert dates == {"+0700"}  # as the people's own mail clients write it, not +0000
