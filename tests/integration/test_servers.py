"""Tests of the mail-server harness itself (tests/servers.py)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import pytest
from imap_tools import MailBox
from servers import Dovecot, SmtpRelay, unique_address

pytestmark = pytest.mark.integration


def make_mail(to: list[str], subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "customer@example.test"
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg.set_content("Zgłoszenie reklamacyjne: café & <b>\n")  # non-ASCII on purpose
    return msg.as_bytes()


def test_lmtp_delivery_is_visible_over_imap(dovecot: Dovecot) -> None:
    user = unique_address("lmtp")
    dovecot.deliver(user, make_mail([user], "via lmtp"))

    raws = dovecot.fetch_raw(user)
    assert len(raws) == 1
    assert b"Subject: via lmtp" in raws[0]
    assert dovecot.folders(user) == ["INBOX"]
    assert any((dovecot.maildir_path(user) / "new").iterdir())
    # fetch_raw peeks: the message stays unseen
    with dovecot.mailbox(user) as box:
        assert "\\Seen" not in next(box.fetch(mark_seen=False)).flags


def test_append_to_new_folder_and_keywords(dovecot: Dovecot) -> None:
    user = unique_address("append")
    dovecot.append(user, make_mail([user], "first"), folder="Reklamacje/2024")
    dovecot.append(user, make_mail([user], "second"), folder="Reklamacje/2024")
    assert "Reklamacje/2024" in dovecot.folders(user)
    with dovecot.mailbox(user, initial_folder="Reklamacje/2024") as box:
        uid = box.uids()[0]
        box.flag(uid, "mailproc-done", True)  # keyword, as the app will store them
        assert "mailproc-done" in next(box.fetch(mark_seen=False)).flags
    raws = dovecot.fetch_raw(user, "Reklamacje/2024")
    assert [b"Subject: first" in r for r in raws] == [True, False]


def test_imaps_verifies_against_ca_file(dovecot: Dovecot) -> None:
    user = unique_address("tls")
    dovecot.deliver(user, make_mail([user], "over tls"))
    ctx = ssl.create_default_context(cafile=str(dovecot.ca_file))
    with MailBox(dovecot.host, dovecot.imaps_port, ssl_context=ctx).login(
        user, dovecot.password
    ) as box:
        assert [m.subject for m in box.fetch(mark_seen=False)] == ["over tls"]


def test_imaps_without_ca_is_rejected(dovecot: Dovecot) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        MailBox(dovecot.host, dovecot.imaps_port, ssl_context=ssl.create_default_context())


def test_relay_delivers_to_every_recipient(dovecot: Dovecot, smtp_relay: SmtpRelay) -> None:
    a, b = unique_address("admin"), unique_address("quality")
    raw = make_mail([a, b], "two recipients")
    with smtplib.SMTP(smtp_relay.host, smtp_relay.port, timeout=10) as smtp:
        smtp.sendmail("mailproc@example.test", [a, b], raw)

    assert len(smtp_relay.received) == 1
    mail_from, rcpts, received_raw = smtp_relay.received[0]
    assert (mail_from, rcpts) == ("mailproc@example.test", [a, b])
    assert b"Subject: two recipients" in received_raw
    for user in (a, b):
        (got,) = dovecot.fetch_raw(user)
        assert f"Delivered-To: {user}".encode() in got
        assert b"Subject: two recipients" in got


def test_fail_next_gives_temporary_failure_once(dovecot: Dovecot, smtp_relay: SmtpRelay) -> None:
    user = unique_address("retry")
    raw = make_mail([user], "retry me")
    smtp_relay.fail_next(1)
    with smtplib.SMTP(smtp_relay.host, smtp_relay.port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as err:
            smtp.sendmail("mailproc@example.test", [user], raw)
        assert err.value.smtp_code == 451
        smtp.sendmail("mailproc@example.test", [user], raw)  # same connection, as a retry

    assert smtp_relay.data_attempts == 2
    assert len(smtp_relay.received) == 1
    assert len(dovecot.fetch_raw(user)) == 1


def test_relay_stop_and_start_on_same_port(dovecot: Dovecot, smtp_relay: SmtpRelay) -> None:
    user = unique_address("updown")
    port = smtp_relay.port
    smtp_relay.stop()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(smtp_relay.host, port, timeout=5)

    smtp_relay.start()
    assert smtp_relay.port == port
    with smtplib.SMTP(smtp_relay.host, port, timeout=10) as smtp:
        smtp.sendmail("mailproc@example.test", [user], make_mail([user], "back up"))
    assert len(dovecot.fetch_raw(user)) == 1


def test_second_instance_runs_alongside(dovecot: Dovecot, tmp_path_factory) -> None:
    # Benchmarks or special tests may start their own server next to the session one.
    with Dovecot(tmp_path_factory.mktemp("dovecot2"), password="other") as other:
        assert other.imap_port not in (dovecot.imap_port, dovecot.imaps_port, dovecot.lmtp_port)
        user = unique_address("second")
        other.deliver(user, make_mail([user], "second server"))
        assert len(other.fetch_raw(user)) == 1
        assert dovecot.fetch_raw(user) == []
