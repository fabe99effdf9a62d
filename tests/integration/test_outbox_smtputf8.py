"""Internationalized addresses over real SMTP, and a batch where one mail of each bad kind sits
among good ones: no outgoing mail stops the flush or makes `poll` exit with a traceback
(issue #9, item 6)."""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MailEnv
from servers import Dovecot, SmtpRelay

import mailproc.outgoing.message
from mailproc import store
from mailproc.config import load_settings
from mailproc.outgoing import outbox


def utf8_complaint(env: MailEnv, local: str, subject: str) -> tuple[str, bytes]:
    sender = f"{local}@{env.tok}.example.com"
    raw = (f"From: {local.capitalize()} <{sender}>\r\nTo: {env.inbox}\r\nSubject: {subject}\r\n"
           f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n"
           "Kemasan rusak, barang pecah saat diterima.\r\n").encode()
    return sender, raw


@pytest.fixture
def utf8_relay(dovecot: Dovecot) -> Iterator[SmtpRelay]:
    relay = SmtpRelay(dovecot, smtputf8=True)
    try:
        relay.start()
        yield relay
    finally:
        relay.stop()


def test_server_with_smtputf8_gets_the_mail_to_a_non_ascii_address(
        tmp_path: Path, dovecot: Dovecot, utf8_relay: SmtpRelay):
    env = MailEnv(dovecot=dovecot, relay=utf8_relay, root=tmp_path, tok=uuid.uuid4().hex[:8])
    env.write_config()
    assert env.run("init").exit_code == 0
    jose, raw = utf8_complaint(env, "josé", "Barang rusak")
    env.deliver(raw)
    summary = env.poll()
    assert summary["outcomes"] == {"complaint": 1}
    assert (summary["failed"], summary["deferred"]) == (0, 0) and summary["sent"] >= 2
    [(mail_from, rcpts, data)] = [r for r in utf8_relay.received if jose in r[1]]
    assert rcpts == [jose] and mail_from == env.inbox
    i = [r[1] for r in utf8_relay.received].index(rcpts)
    assert "SMTPUTF8" in [o.upper() for o in utf8_relay.received_options[i]]
    assert f"To: {jose}\r\n".encode() in data  # UTF-8 header, not an encoded word
    ack = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
    assert ack["To"].addresses[0].addr_spec == jose
    assert summary["registered"][0] in ack["Subject"]
    # The ASCII mail of the same batch went out as before.
    assert any("Keluhan baru" in m["Subject"] for m in env.received("admin"))


def test_server_without_smtputf8_fails_that_mail_and_tells_marketing(mailenv: MailEnv):
    jose, raw = utf8_complaint(mailenv, "josé", "Barang rusak")
    mailenv.deliver(raw)
    mailenv.deliver(mailenv.sample("03-tagihan.eml"))
    result = mailenv.run("poll", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["failed"], summary["deferred"]) == (1, 0)
    rows = json.loads(mailenv.run("outbox", "list", "--all", "--json").stdout)
    [failed] = [r for r in rows if r["status"] == "failed"]
    assert failed["to"] == [jose] and failed["kind"] == "ack"
    assert "SMTPUTF8" in failed["last_error"] and jose in failed["last_error"]
    assert all(r["status"] == "sent" for r in rows if r is not failed)
    assert not [r for r in mailenv.relay.received if jose in r[1]]
    # Marketing administration is told, in the same poll, to reach the customer another way.
    [notice] = [m for m in mailenv.received("admin") if "gagal dikirim" in m["Subject"]]
    assert failed["complaint"] in notice["Subject"]
    body = notice.get_content()
    assert "SMTPUTF8" in body and jose in body and "telepon" in body
    assert "tidak terkirim" in body and "mengembalikan" not in body  # not a bounce
    # The other customer got the acknowledgement.
    assert len(mailenv.received(mailenv.customer("finance", "bangun-jaya.example.com"))) == 1
    shown = mailenv.show(failed["complaint"])
    assert shown["first_response_at"] is None


def _queue(env: MailEnv, number: str | None, **kw) -> int:
    settings = load_settings(env.config, {})
    store.open_database(settings.database_url)
    complaint = store.complaint_by_number(number) if number else None
    with store.transaction():
        row = outbox.queue_mail(settings=settings, now=env.clock(), kind=kw.pop("kind", "test"),
                                complaint=complaint, body="isi surat", **kw)
    return row.id


def test_batch_with_one_mail_of_each_bad_kind_among_good_ones(mailenv: MailEnv, monkeypatch):
    mailenv.deliver(mailenv.sample("03-tagihan.eml"))
    [number] = mailenv.poll()["registered"]
    cust = mailenv.customer("someone", "example.com")
    refused, later = f"tidak-ada-{mailenv.tok}@example.com", f"penuh-{mailenv.tok}@example.com"
    mailenv.relay.refuse = {refused: "550 5.1.1 no such user",
                            later: "452 4.2.2 mailbox full"}
    good = [_queue(mailenv, number, to=[cust], subject="baik 1")]
    bad = {
        "attachment": _queue(mailenv, number, to=[cust], subject="lampiran hilang",
                             attachments=["2025/07/x/hilang.pdf"]),
        "header": _queue(mailenv, number, to=[cust], subject="HEADER rusak"),
        "refused": _queue(mailenv, number, to=[refused], subject="penerima ditolak"),
        "smtputf8": _queue(mailenv, number, to=[f"josé-{mailenv.tok}@example.com"],
                           subject="butuh SMTPUTF8"),
        "unexpected": _queue(mailenv, number, to=[cust], subject="BOOM"),
    }
    good.append(_queue(mailenv, number, to=[cust], subject="baik 2"))
    temporary = _queue(mailenv, number, to=[later], subject="penerima sementara ditolak")
    good.append(_queue(mailenv, None, to=[cust], subject="baik 3", cc=[mailenv.addr("ops")]))

    real_build = mailproc.outgoing.message.build_message
    real_header = mailproc.outgoing.message._header

    def flaky(row, *args, **kwargs):
        if row.subject == "BOOM":
            raise RuntimeError("kaboom")
        return real_build(row, *args, **kwargs)

    def bad_header(value):
        if value.startswith("HEADER"):
            raise UnicodeEncodeError("ascii", value, 0, 1, "cannot encode")
        return real_header(value)

    monkeypatch.setattr(mailproc.outgoing.message, "build_message", flaky)
    monkeypatch.setattr(mailproc.outgoing.message, "_header", bad_header)
    result = mailenv.run("poll", "--json")
    assert result.exit_code == 0, result.output  # no traceback, poll carries on
    summary = json.loads(result.stdout)
    # 3 good ones and 5 notices to marketing administration (one per mail that failed).
    assert (summary["sent"], summary["failed"], summary["deferred"]) == (8, 5, 1)
    rows = {r["id"]: r for r in json.loads(mailenv.run("outbox", "list", "--all",
                                                       "--json").stdout)}
    assert [rows[i]["status"] for i in good] == ["sent"] * 3
    assert {k: rows[i]["status"] for k, i in bad.items()} == dict.fromkeys(bad, "failed")
    assert "550" in rows[bad["refused"]]["last_error"]
    assert "SMTPUTF8" in rows[bad["smtputf8"]]["last_error"]
    assert rows[temporary]["status"] == "queued" and "452" in rows[temporary]["last_error"]
    assert len(mailenv.received(cust)) == 3
    notices = [m for m in mailenv.received("admin") if "Email gagal dikirim" in m["Subject"]]
    assert len(notices) == 5
