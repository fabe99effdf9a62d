"""Outgoing mail that cannot go out fails alone: internationalized addresses (SMTPUTF8) and
one mail of each bad kind among good ones, on the Maildir transport (issue #9, item 6)."""

from __future__ import annotations

import json
import mailbox
from email.errors import HeaderParseError
from pathlib import Path

import pytest
from appfixture import LocalApp

from mailproc import store
from mailproc.config import load_settings
from mailproc.errors import SendError
from mailproc.outgoing import message, outbox, transports


def complaint_mail(sender: str, subject: str, mid: str) -> bytes:
    return (f"From: {sender}\r\nTo: keluhan@contoh.co.id\r\nSubject: {subject}\r\n"
            f"Message-ID: <{mid}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Kemasan rusak, barang pecah.\r\n").encode()


def sent_files(app: LocalApp) -> dict[str, bytes]:
    """The outgoing Maildir's mails by file name. Maildir names do not sort by time (the
    microseconds in them are not zero-padded), so callers diff names, never slice by order."""
    return {p.name: p.read_bytes() for p in (app.root / "var" / "sent" / "new").iterdir()}


def raw_sent(app: LocalApp) -> list[bytes]:
    return list(sent_files(app).values())


def test_ascii_domain_and_smtputf8_need():
    assert message.ascii_domain("info@bücher.example") == "info@xn--bcher-kva.example"
    assert message.ascii_domain("josé@example.com") == "josé@example.com"
    assert message.ascii_domain("a@example.com") == "a@example.com"
    assert not message.needs_smtputf8(["info@xn--bcher-kva.example", "a@example.com"])
    assert message.needs_smtputf8(["a@example.com", "josé@example.com"])


def test_acknowledgement_to_a_non_ascii_address_is_written_with_utf8_headers(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver(complaint_mail("José <josé@example.com>", "Barang rusak", "u1@example.com"))
    summary = app.poll()
    assert (summary["sent"], summary["failed"], summary["deferred"]) == (3, 0, 0)
    [ack] = [raw for raw in raw_sent(app) if b"Keluhan Anda" in raw]
    head = ack.split(b"\n\n", 1)[0]
    # RFC 6532: the address as UTF-8, never an encoded word (which cannot hold an address).
    assert "To: josé@example.com".encode() in head
    assert "X-Envelope-To: josé@example.com".encode() in head
    assert b"=?utf-8?" not in head.split(b"\nSubject:")[0]


def test_maildir_transport_writes_utf8_mail(tmp_path: Path):
    transport = transports.MaildirTransport(tmp_path / "sent")
    from email.mime.text import MIMEText

    msg = MIMEText("isi", "plain", "utf-8")
    msg["To"] = "josé@example.com"
    msg["Subject"] = "Keluhan – diterima"
    transport.send(msg, ["josé@example.com"], utf8=True)
    transport.close()
    [raw] = [p.read_bytes() for p in (tmp_path / "sent" / "new").iterdir()]
    assert "To: josé@example.com\n".encode() in raw
    assert "Subject: Keluhan – diterima\n".encode() in raw
    assert b"\r\n" not in raw  # local files use the local line ending


def test_unwritable_maildir_defers_instead_of_crashing(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    transport = transports.MaildirTransport(blocker / "sent")
    from email.mime.text import MIMEText

    with pytest.raises(SendError) as err:
        transport.send(MIMEText("isi"), ["a@example.com"])
    assert not err.value.permanent and "smtp.url" in str(err.value)


def _queue(app: LocalApp, **kw) -> int:
    settings = load_settings(app.config, {})
    store.open_database(settings.database_url)
    number = kw.pop("complaint", None)
    complaint = store.complaint_by_number(number) if number else None
    with store.transaction():
        row = outbox.queue_mail(settings=settings, now=app.clock(), kind=kw.pop("kind", "test"),
                                complaint=complaint, body=kw.pop("body", "isi surat"), **kw)
    return row.id


def test_one_mail_of_each_bad_kind_among_good_ones(tmp_path: Path, monkeypatch, caplog):
    app = LocalApp(tmp_path)
    app.deliver(complaint_mail("pelanggan@example.com", "Barang rusak", "base@example.com"))
    [number] = app.poll()["registered"]
    before = set(sent_files(app))
    good, bad = [], {}
    good.append(_queue(app, to=["baik1@example.com"], subject="baik 1"))
    bad["attachment"] = _queue(app, to=["a@example.com"], subject="lampiran hilang",
                               complaint=number, attachments=["2025/07/x/hilang.pdf"])
    good.append(_queue(app, to=["baik2@example.com"], subject="baik 2", complaint=number))
    bad["header"] = _queue(app, to=["b@example.com"], subject="HEADER rusak",
                           complaint=number)
    bad["unexpected"] = _queue(app, to=["c@example.com"], subject="BOOM", complaint=number)
    bad["to_admin"] = _queue(app, to=["admin.marketing@contoh.co.id"], subject="BOOM admin",
                             complaint=number, kind="notice_new")
    good.append(_queue(app, to=["josé@example.com"], subject="baik utf8", complaint=number))
    good.append(_queue(app, to=["info@bücher.example"], subject="baik idn", complaint=number))

    real_build = message.build_message
    real_header = message._header

    def flaky(row, *args, **kwargs):
        if row.subject.startswith("BOOM"):
            raise RuntimeError("kaboom")
        return real_build(row, *args, **kwargs)

    def bad_header(value):
        if value.startswith("HEADER"):
            raise HeaderParseError("header cannot be encoded")
        return real_header(value)

    monkeypatch.setattr(message, "build_message", flaky)
    monkeypatch.setattr(message, "_header", bad_header)
    result = app.run("poll", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # 4 good + 3 notices to marketing administration (none for the mail that was theirs).
    assert (summary["sent"], summary["failed"], summary["deferred"]) == (7, 4, 0)
    rows = {r["id"]: r for r in app.json("outbox", "list", "--all")}
    assert all(rows[i]["status"] == "sent" for i in good)
    assert all(rows[i]["status"] == "failed" for i in bad.values())
    assert "hilang.pdf" in rows[bad["attachment"]]["last_error"]
    assert "HeaderParseError" in rows[bad["header"]]["last_error"]
    assert "RuntimeError: kaboom" in rows[bad["unexpected"]]["last_error"]
    notices = [r for r in rows.values() if r["kind"] == "notice_send_failed"]
    assert len(notices) == 3 and all(r["status"] == "sent" for r in notices)
    assert {r["subject"] for r in notices} == {
        f"[{number}] Email gagal dikirim: {s}" for s in ("lampiran hilang", "HEADER rusak", "BOOM")}
    # A mail that never left is not called a bounce.
    assert not [r for r in rows.values() if r["kind"] == "notice_bounce"]
    written = [raw for name, raw in sent_files(app).items() if name not in before]
    assert len(written) == 7
    assert any(b"To: info@xn--bcher-kva.example" in raw for raw in written)
    # One line per failure in the log.
    failures = [r for r in caplog.records if "failed for good" in r.getMessage()]
    assert len(failures) == 4 and all("\n" not in r.getMessage() for r in failures)


def test_failed_acknowledgement_tells_marketing_to_reach_the_customer(tmp_path: Path,
                                                                      monkeypatch):
    app = LocalApp(tmp_path)

    def refuse(self, msg, recipients, *, utf8=False):
        if any(not a.isascii() for a in recipients):
            raise transports.MailRefused("the SMTP server does not offer SMTPUTF8", permanent=True)
        return real(self, msg, recipients, utf8=utf8)

    real = transports.MaildirTransport.send
    monkeypatch.setattr(transports.MaildirTransport, "send", refuse)
    app.deliver(complaint_mail("José <josé@example.com>", "Barang rusak", "u2@example.com"))
    app.deliver(complaint_mail("lain@example.com", "Barang kurang", "u3@example.com"))
    summary = app.poll()
    assert summary["failed"] == 1 and summary["deferred"] == 0
    rows = app.json("outbox", "list", "--all")
    assert [r["to"] for r in rows if r["status"] == "failed"] == [["josé@example.com"]]
    assert summary["sent"] == len(rows) - 1  # the other customer's mail and the notice too
    assert ["lain@example.com"] in [r["to"] for r in rows if r["kind"] == "ack"]
    [c] = [c for c in app.json("complaints", "list") if c["customer"] == "josé@example.com"]
    assert c["first_response_at"] is None
    box = mailbox.Maildir(str(tmp_path / "var" / "sent"), create=False)
    [notice] = [m for m in box.values()
                if "Tanda terima gagal dikirim" in (m["Subject"] or "")]
    body = notice.get_payload(decode=True).decode()
    assert "SMTPUTF8" in body and "telepon" in body
    # It says the mail never left (not that the server returned it) and how to send it again.
    assert "tidak terkirim" in body and "mengembalikan" not in body
    [failed] = [r for r in rows if r["status"] == "failed"]
    assert f"mailproc outbox retry {failed['id']}" in body


def test_each_mail_is_claimed_in_committed_state_before_it_is_sent(tmp_path: Path,
                                                                   monkeypatch):
    """The mark of one mail and the claim of the next share a transaction: when a mail is
    handed to the transport, it alone is 'sending' in what another connection (a crash's
    survivor) reads, and the ones before it are 'sent'."""
    import sqlite3

    app = LocalApp(tmp_path)
    for n in range(3):
        app.deliver(complaint_mail(f"p{n}@example.com", f"Barang rusak {n}", f"c{n}@example.com"))
    settings = load_settings(app.config, {})
    path = settings.database_url.removeprefix("sqlite:///")
    seen: list[tuple[bool, dict[str, int]]] = []
    real_send = transports.MaildirTransport.send

    def watching(self, msg, recipients, **kwargs):
        with sqlite3.connect(path) as other:
            sending = other.execute("SELECT message_id FROM outgoing_mail WHERE status = "
                                    "'sending'").fetchall()
            counts = dict(other.execute("SELECT status, COUNT(*) FROM outgoing_mail "
                                        "GROUP BY status").fetchall())
        # Recorded, not asserted here: flush would take an exception for a failed mail.
        seen.append((sending == [(msg["Message-ID"].strip("<>"),)], counts))
        return real_send(self, msg, recipients, **kwargs)

    monkeypatch.setattr(transports.MaildirTransport, "send", watching)
    summary = app.poll()
    # Three mails a complaint: the acknowledgement, the notice, the PTPP to the department.
    assert summary["sent"] == len(seen) == 9
    assert all(alone for alone, _ in seen)
    assert [counts.get("sent", 0) for _, counts in seen] == list(range(9))


@pytest.mark.parametrize("address", [
    "a@example.com", "info@xn--bcher-kva.example", "josé@example.com", "a.b+c@sub.example.co.id",
    "<a@example.com>", "Nama <a@example.com>", "a@b@c.example", '"a b"@example.com',
    "a@example.com (komentar)", "", "<>", "a @example.com", "x@[127.0.0.1]"])
def test_envelope_addresses_are_quoted_as_smtplib_quotes_them(address: str):
    import smtplib

    assert transports._quote(address) == smtplib.quoteaddr(address)
