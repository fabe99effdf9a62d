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


def test_a_rolled_back_registration_leaves_no_file_in_the_reused_numbers_folder(
        tmp_path: Path, monkeypatch):
    """Archive writes are staged until the registration commits: a registration that fails
    after its mail and attachment were archived leaves nothing in the folder of the number
    the next complaint then gets (issue #10: two customers' mails in one folder)."""
    app = LocalApp(tmp_path)
    real = mailproc.intake.services._queue_new_complaint_notice

    def fail_late(app_, complaint, *args, **kwargs):
        if "meledak" in complaint.subject:
            raise RuntimeError("gagal setelah pengarsipan")
        return real(app_, complaint, *args, **kwargs)

    monkeypatch.setattr(mailproc.intake.services, "_queue_new_complaint_notice", fail_late)
    first = (b"From: pertama@example.com\r\nSubject: barang meledak\r\n"
             b"Message-ID: <first@example.com>\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
             b"Content-Type: text/plain\r\n\r\nBarang rusak.\r\n--b\r\n"
             b"Content-Type: image/png\r\nContent-Disposition: attachment; filename=foto.png\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n")
    app.deliver(first)
    app.deliver(mail("barang rusak", "second@example.com", sender="kedua@example.com"))
    summary = app.poll()
    assert summary["outcomes"] == {"quarantined": 1, "complaint": 1}
    [c] = app.json("complaints", "list")
    assert c["number"] == app.clock.number(1)  # the number the failed one had taken
    archive = tmp_path / "archive"
    folders = [p for p in archive.rglob("*") if p.is_dir() and p.name == c["number"].replace(
        "/", "-")] or [p.parent for p in archive.rglob("*.eml") if "_karantina" not in p.parts]
    assert folders, "the complaint's folder exists"
    in_folder = [p for f in folders for p in f.rglob("*") if p.is_file()]
    raws = [p.read_bytes() for p in in_folder if p.suffix == ".eml"]
    assert len(raws) == 1 and b"kedua@example.com" in raws[0]
    assert not any(p.name == "foto.png" for p in in_folder)  # the failed one's attachment
    # Nothing is left in staging; the failed mail is archived once, as quarantined.
    assert not [p for p in (archive / ".staging").rglob("*") if p.is_file()]
    quarantined = [p for p in archive.rglob("*.eml") if "_karantina" in p.parts]
    assert len(quarantined) == 1 and b"pertama@example.com" in quarantined[0].read_bytes()
