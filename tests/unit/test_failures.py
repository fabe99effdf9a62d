"""Bad input and broken parts: the mail is quarantined with its reason, nothing half-done is
left behind, and the mail behind it goes on."""

from __future__ import annotations

from pathlib import Path

import pytest
from appfixture import LocalApp

import mailproc.intake.services


def mail(subject: str, mid: str, sender: str = "pelanggan@example.com") -> bytes:
    return (f"From: {sender}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n\r\n"
            "Barang rusak.\r\n").encode()


def test_processing_error_quarantines_that_mail_only(tmp_path: Path, monkeypatch):
    app = LocalApp(tmp_path)
    real = mailproc.intake.services.classify_text

    def flaky(text, rules):
        if "meledak" in text:
            raise RuntimeError("aturan rusak")
        return real(text, rules)

    monkeypatch.setattr(mailproc.intake.services, "classify_text", flaky)
    app.deliver(mail("barang meledak", "boom@example.com"))
    app.deliver(mail("barang rusak", "ok@example.com"))
    summary = app.poll()
    assert summary["outcomes"] == {"quarantined": 1, "complaint": 1}
    # The failed registration was rolled back whole: its number was not used up.
    [c] = app.json("complaints", "list")
    assert c["number"] == app.clock.number(1)
    notices = [m for m in app.sent() if "dikarantina" in m["Subject"]]
    assert len(notices) == 1
    body = notices[0].get_payload(decode=True).decode()
    assert "RuntimeError" in body and "aturan rusak" in body
    quarantined = list((tmp_path / "var" / "inbox" / ".Quarantine" / "cur").iterdir())
    assert len(quarantined) == 1 and b"meledak" in quarantined[0].read_bytes()
    assert app.poll()["fetched"] == 0


def test_database_failure_leaves_the_mail_for_the_next_poll(tmp_path: Path, monkeypatch):
    app = LocalApp(tmp_path)

    def down(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(mailproc.intake.services, "quarantine", down)
    monkeypatch.setattr(mailproc.intake.services, "register_from_mail", down)
    app.deliver(mail("barang rusak", "later@example.com"))
    summary = app.poll()
    assert summary["errors"] and "disk full" in summary["errors"][0]
    assert len(list((tmp_path / "var" / "inbox" / "new").iterdir())) == 1
    monkeypatch.undo()
    assert app.poll()["outcomes"] == {"complaint": 1}


@pytest.mark.parametrize("raw,reason", [
    (b"\x00\x01\x02 not a mail at all", "pengirim"),
    (b"From: \r\nSubject: x\r\n\r\nisi\r\n", "pengirim"),
    (b"From: a@example.com\r\nMessage-ID: <e@x>\r\n\r\n", "kosong"),
])
def test_unusable_mail_is_quarantined_with_a_reason(tmp_path: Path, raw: bytes, reason: str):
    app = LocalApp(tmp_path)
    app.deliver(raw)
    assert app.poll()["outcomes"] == {"quarantined": 1}
    [notice] = app.sent()
    assert reason in notice.get_payload(decode=True).decode()


def test_bounced_acknowledgement_is_linked_and_marketing_told(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver(mail("barang rusak", "c1@example.com", sender="salah@example.com"))
    app.poll()
    [ack] = [m for m in app.sent() if "Keluhan Anda" in m["Subject"]]
    dsn = (Path(__file__).resolve().parents[1] / "fixtures" / "eml" / "dsn_bounce.eml"
           ).read_bytes().replace(b"<ptpp-2025-0042.issue.1764043330@contoh.co.id>",
                                  ack["Message-ID"].encode())
    app.deliver(dsn)
    summary = app.poll()
    assert summary["outcomes"] == {"bounce": 1}
    [c] = app.json("complaints", "list")
    assert c["first_response_at"] is None  # the customer never got it
    shown = app.json("complaints", "show", c["number"])
    assert "mail_bounced" in [e["kind"] for e in shown["events"]]
    statuses = {r["kind"]: r["status"] for r in app.json("outbox", "list", "--all")}
    assert statuses["ack"] == "bounced"
    [notice] = [m for m in app.sent() if "tidak sampai" in m["Subject"]]
    assert c["number"] in notice["Subject"]
    assert "telepon" in notice.get_payload(decode=True).decode()
    # The bounce itself is never answered.
    assert not [m for m in app.sent() if "mailer-daemon" in (m["To"] or "")]


def test_bounced_ptpp_mail_to_a_department_tells_marketing(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver(mail("barang rusak", "c2@example.com", sender="pelanggan2@example.com"))
    app.poll()
    [issued] = [m for m in app.sent() if "PTPP untuk Bagian" in m["Subject"]]
    dsn = (Path(__file__).resolve().parents[1] / "fixtures" / "eml" / "dsn_bounce.eml"
           ).read_bytes().replace(b"<ptpp-2025-0042.issue.1764043330@contoh.co.id>",
                                  issued["Message-ID"].encode())
    app.deliver(dsn)
    assert app.poll()["outcomes"] == {"bounce": 1}
    [notice] = [m for m in app.sent() if "Email tidak sampai" in m["Subject"]]
    body = notice.get_payload(decode=True).decode()
    assert "qc@contoh.co.id" in body and "alamat bagian" in body
    [c] = app.json("complaints", "list")
    assert c["first_response_at"] is not None  # the customer's acknowledgement did arrive
