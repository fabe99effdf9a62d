"""`mailproc doctor` against the real Dovecot and SMTP relay: the IMAP and SMTP lines pass, a
wrong password is a failing line that says what to fix, and doctor fetches, moves and sends
nothing (issue #9, item 4)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MailEnv
from servers import Dovecot, SmtpRelay


def doctor(env: MailEnv, extra_env: dict[str, str] | None = None
           ) -> tuple[int, dict[str, dict[str, str]]]:
    result = env.run("doctor", "--json", env=extra_env)
    rows = json.loads(result.stdout)
    return result.exit_code, {r["check"]: r for r in rows}


@pytest.fixture
def auth_relay(dovecot: Dovecot) -> Iterator[SmtpRelay]:
    relay = SmtpRelay(dovecot, smtputf8=True, password="smtp-secret")
    try:
        relay.start()
        yield relay
    finally:
        relay.stop()


def test_imap_and_smtp_lines_pass_and_nothing_is_touched(mailenv: MailEnv):
    raw = mailenv.sample("03-tagihan.eml")
    mailenv.deliver(raw)
    code, checks = doctor(mailenv)
    assert code == 0, checks
    assert checks["imap login"]["status"] == "ok"
    assert mailenv.inbox in checks["imap login"]["message"]
    # init does not create IMAP folders; doctor says the first poll will, and creates none.
    assert checks["imap folders"]["status"] == "warn"
    assert "Processed" in checks["imap folders"]["message"]
    assert checks["imap capabilities"] == {"check": "imap capabilities", "status": "ok",
                                           "message": "MOVE, UIDPLUS, IDLE"}
    assert checks["smtp connection"]["status"] == "ok" and checks["smtp login"]["status"] == "ok"
    assert checks["smtp size"]["status"] == "ok"
    assert checks["smtp smtputf8"]["status"] == "warn"  # the default relay has none
    # Nothing fetched, moved, flagged, created or sent.
    assert len(mailenv.dovecot.fetch_raw(mailenv.inbox)) == 1
    with mailenv.dovecot.mailbox(mailenv.inbox) as box:
        [msg] = list(box.fetch(mark_seen=False))
        assert "\\Seen" not in msg.flags
    assert set(mailenv.dovecot.folders(mailenv.inbox)) == {"INBOX"}
    assert mailenv.relay.data_attempts == 0 and mailenv.relay.received == []
    assert json.loads(mailenv.run("complaints", "list", "--json").stdout) == []
    assert json.loads(mailenv.run("outbox", "list", "--all", "--json").stdout) == []
    # The poll afterwards finds the mail as new.
    assert mailenv.poll()["outcomes"] == {"complaint": 1}


def test_wrong_imap_password_is_a_failing_line_with_what_to_fix(mailenv: MailEnv):
    code, checks = doctor(mailenv, {"MAILPROC_MAILBOX_PASSWORD": "wrong-secret"})
    assert code == 1
    line = checks["imap login"]
    assert line["status"] == "fail" and "MAILPROC_MAILBOX_PASSWORD" in line["message"]
    assert "wrong-secret" not in json.dumps(checks)
    assert checks["smtp connection"]["status"] == "ok"  # the other checks still ran
    text = mailenv.run("doctor", env={"MAILPROC_MAILBOX_PASSWORD": "wrong-secret"})
    assert text.exit_code == 1
    assert any(line.startswith("FAIL") and "imap login" in line
               for line in text.output.splitlines())


def test_smtp_login_smtputf8_and_a_wrong_smtp_password(tmp_path: Path, dovecot: Dovecot,
                                                       auth_relay: SmtpRelay):
    env = MailEnv(dovecot=dovecot, relay=auth_relay, root=tmp_path, tok=uuid.uuid4().hex[:8])
    env.write_config()
    assert env.run("init").exit_code == 0
    url = f"smtp://{env.inbox.replace('@', '%40')}@127.0.0.1:{auth_relay.port}"
    code, checks = doctor(env, {"MAILPROC_SMTP_URL": url,
                                "MAILPROC_SMTP_PASSWORD": "smtp-secret"})
    assert code == 0, checks
    assert checks["smtp login"] == {"check": "smtp login", "status": "ok",
                                    "message": f"logged in as {env.inbox}"}
    assert checks["smtp smtputf8"]["status"] == "ok"
    code, checks = doctor(env, {"MAILPROC_SMTP_URL": url, "MAILPROC_SMTP_PASSWORD": "wrong"})
    assert code == 1
    line = checks["smtp login"]
    assert line["status"] == "fail" and "MAILPROC_SMTP_PASSWORD" in line["message"]
    assert auth_relay.data_attempts == 0


def test_imaps_certificate_is_verified(mailenv: MailEnv):
    mailenv.write_config(tls=True)
    code, checks = doctor(mailenv)
    line = checks["imap connection"]
    assert code == 1 and line["status"] == "fail"
    assert "not trusted" in line["message"] and "mailbox.ca_file" in line["message"]
    mailenv.write_config(tls=True, ca_file=str(mailenv.dovecot.ca_file))
    code, checks = doctor(mailenv)
    assert code == 0, checks
    assert "TLS, certificate verified" in checks["imap login"]["message"]
