"""OAuth2 (XOAUTH2) end to end on loopback: a token server (tests/oauthserver.py), a Dovecot
whose oauth2 passdb checks every token with that server's introspection endpoint, and an SMTP
server that accepts only AUTH XOAUTH2 with a token the server vouches for.

Covered: the device-code sign-in (`mailproc auth login --provider microsoft`), a poll over
IMAP XOAUTH2 whose acknowledgement goes out over SMTP XOAUTH2, the refresh of an expired
token (stored again with mode 0600), an access token revoked early (refreshed once and
retried), a revoked refresh token (one clear line, exit 1, the mail left in INBOX; queued
mail deferred, not failed), and the client secret kept out of logs, outputs and the token file.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import MailEnv
from oauthserver import OAuthDovecot, OAuthSmtpRelay, TokenServer

from mailproc import oauth
from mailproc.config import load_settings
from mailproc.oauth import Token

# The XOAUTH2 SMTP server listens on plain loopback; aiosmtpd warns about AUTH without TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

CLIENT_ID = "mailproc-test-client"
TENANT = "contoh-test"


@pytest.fixture(scope="module")
def token_server() -> Iterator[TokenServer]:
    server = TokenServer(client_id=CLIENT_ID)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def oauth_dovecot(token_server: TokenServer) -> Iterator[OAuthDovecot]:
    workdir = Path(tempfile.mkdtemp(prefix="mailproc-oauth-dovecot-"))
    server = OAuthDovecot(workdir, token_server)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def oauth_relay(oauth_dovecot: OAuthDovecot, token_server: TokenServer
                ) -> Iterator[OAuthSmtpRelay]:
    relay = OAuthSmtpRelay(oauth_dovecot, token_server)
    try:
        relay.start()
        yield relay
    finally:
        relay.stop()


@pytest.fixture
def token_server_reset(token_server: TokenServer) -> TokenServer:
    """The module's token server with a clean record of requests and no secret required."""
    token_server.seen.token.clear()
    token_server.client_secret = ""
    return token_server


class OAuthEnv(MailEnv):
    tokens: TokenServer

    @property
    def token_file(self) -> Path:
        return self.root / "var" / "oauth-token.json"

    def write_oauth_config(self, *, mailbox_auth: str = "oauth2", smtp_auth: str = "oauth2",
                           extra: str = "") -> Path:
        base = self.tokens.url + f"/{TENANT}/oauth2/v2.0"
        self.write_config(extra=f"""
[oauth]
provider = "microsoft"
client_id = "{CLIENT_ID}"
tenant = "{TENANT}"
token_url = "{base}/token"
device_code_url = "{base}/devicecode"
{extra}
""")
        text = self.config.read_text(encoding="utf-8")
        user = self.inbox.replace("@", "%40")
        smtp_line = f'url = "smtp://127.0.0.1:{self.relay.port}"\n'
        assert text.count("[mailbox]\n") == 1 and text.count(smtp_line) == 1
        text = text.replace("[mailbox]\n", f'[mailbox]\nauth = "{mailbox_auth}"\n').replace(
            smtp_line, f'url = "smtp://{user}@127.0.0.1:{self.relay.port}"\n'
                       f'auth = "{smtp_auth}"\n')
        self.config.write_text(text, encoding="utf-8")
        return self.config

    def seed_token(self, *, expired: bool = False) -> Token:
        """A signed-in state without the interactive flow: a token the server issued."""
        answer = self.tokens.issue(self.inbox)
        now = datetime.now(UTC)
        token = Token(provider="microsoft", client_id=CLIENT_ID, account=self.inbox,
                      access_token=answer["access_token"],
                      refresh_token=answer["refresh_token"],
                      expires_at=now + (timedelta(minutes=-1) if expired
                                        else timedelta(seconds=answer["expires_in"])),
                      obtained_at=now)
        oauth.save_token(self.token_file, token)
        return token

    def outbox(self) -> list[dict]:
        result = self.run("outbox", "list", "--all", "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def oenv(tmp_path: Path, oauth_dovecot: OAuthDovecot, oauth_relay: OAuthSmtpRelay,
         token_server_reset: TokenServer) -> OAuthEnv:
    env = OAuthEnv(dovecot=oauth_dovecot, relay=oauth_relay, root=tmp_path,
                   tok=uuid.uuid4().hex[:8])
    env.tokens = token_server_reset
    token_server_reset.account = env.inbox
    env.write_oauth_config()
    result = env.run("init")
    assert result.exit_code == 0, result.output
    return env


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_device_code_login_then_poll_over_imap_and_smtp_xoauth2(oenv: OAuthEnv):
    ts = oenv.tokens
    result = oenv.run("auth", "login", "--provider", "microsoft")
    assert result.exit_code == 0, result.output
    # The device-code flow: the address and code shown, one 'pending' poll, then approved.
    assert f"open {ts.url}/device in a browser and enter the code TESTCODE" in result.output
    polls = ts.seen.grants("urn:ietf:params:oauth:grant-type:device_code")
    assert len(polls) == 2 and all(p["client_id"] == CLIENT_ID for p in polls)
    assert f"signed in as {oenv.inbox}" in result.output
    assert mode(oenv.token_file) == 0o600
    stored = json.loads(oenv.token_file.read_text())
    assert stored["account"] == oenv.inbox and stored["refresh_token"].startswith("rt-")
    assert stored["access_token"] not in result.output

    status = oenv.run("auth", "status", "--json")
    assert status.exit_code == 0, status.output
    info = json.loads(status.stdout)
    assert info["account"] == oenv.inbox and info["provider"] == "microsoft"
    assert info["refresh_token"] is True and info["expired"] is False
    assert info["mode"] == "0600" and info["matches_config"] is True
    assert stored["access_token"] not in status.output
    assert stored["refresh_token"] not in status.output

    oenv.deliver(oenv.sample("01-botol-retak.eml"))
    summary = oenv.poll()
    assert summary["outcomes"] == {"complaint": 1}
    assert summary["sent"] == 4 and summary["deferred"] == 0
    # The SMTP server saw XOAUTH2 logins as the mailbox, each vouched for by the token server.
    assert oenv.relay.auth_attempts and all(a == (oenv.inbox, True)
                                            for a in oenv.relay.auth_attempts)
    [ack, _retur] = oenv.received(oenv.customer("budi.santoso", "mitra-pangan.example.com"))
    assert "Keluhan Anda telah kami terima" in ack["Subject"]
    assert oenv.dovecot.fetch_raw(oenv.inbox) == []  # moved to Processed
    assert len(oenv.dovecot.fetch_raw(oenv.inbox, "Processed")) == 1
    log = oenv.dovecot.log_file.read_text(errors="replace")
    assert f"user=<{oenv.inbox}>, method=XOAUTH2" in log
    assert not ts.seen.grants("refresh_token")  # a fresh token is not refreshed


def test_expired_access_token_is_refreshed_and_stored_0600(oenv: OAuthEnv):
    ts = oenv.tokens
    old = oenv.seed_token(expired=True)
    ts.expire_access_tokens()  # the server agrees: the old access token is dead
    oenv.deliver(oenv.sample("01-botol-retak.eml"))
    umask = os.umask(0)  # the token file is 0600 whatever the umask
    try:
        summary = oenv.poll()
    finally:
        os.umask(umask)
    assert summary["outcomes"] == {"complaint": 1} and summary["sent"] == 4
    [grant] = ts.seen.grants("refresh_token")  # once, then the new token serves SMTP too
    assert grant["refresh_token"] == old.refresh_token and grant["client_id"] == CLIENT_ID
    assert grant["scope"] == oauth.PROVIDERS["microsoft"].scopes  # Microsoft wants it
    stored = oauth.load_token(oenv.token_file)
    assert stored is not None and stored.access_token != old.access_token
    assert stored.refresh_token == old.refresh_token
    assert stored.expires_at > datetime.now(UTC) + timedelta(minutes=30)
    assert mode(oenv.token_file) == 0o600
    assert not list(oenv.token_file.parent.glob(".oauth-token.json.*.tmp"))


def test_access_token_revoked_early_is_refreshed_once_and_retried(oenv: OAuthEnv):
    ts = oenv.tokens
    old = oenv.seed_token()  # looks valid for an hour …
    ts.revoke_access_tokens()  # … but the server no longer takes it
    oenv.deliver(oenv.sample("01-botol-retak.eml"))
    summary = oenv.poll()
    assert summary["outcomes"] == {"complaint": 1} and summary["sent"] == 4
    assert len(ts.seen.grants("refresh_token")) == 1
    stored = oauth.load_token(oenv.token_file)
    assert stored is not None and stored.access_token != old.access_token


def test_a_token_for_another_account_is_refused_with_a_clear_line(oenv: OAuthEnv):
    ts = oenv.tokens
    answer = ts.issue("someone-else@contoh.co.id")  # signed in as the wrong user
    now = datetime.now(UTC)
    oauth.save_token(oenv.token_file, Token(
        provider="microsoft", client_id=CLIENT_ID, account="someone-else@contoh.co.id",
        access_token=answer["access_token"], refresh_token=answer["refresh_token"],
        expires_at=now + timedelta(hours=1), obtained_at=now))
    oenv.deliver(oenv.sample("01-botol-retak.eml"))
    result = oenv.run("poll")
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"mailproc: error: IMAP XOAUTH2 login to 127.0.0.1:"
                           f"{oenv.dovecot.imap_port} as '{oenv.inbox}' refused with a fresh "
                           "token")
    assert f"check that {oenv.inbox} is the account that signed in" in line
    assert len(ts.seen.grants("refresh_token")) == 1  # one refresh, one retry, no loop
    assert len(oenv.dovecot.fetch_raw(oenv.inbox)) == 1


def test_revoked_refresh_token_stops_the_poll_with_one_clear_line(oenv: OAuthEnv):
    ts = oenv.tokens
    oenv.seed_token(expired=True)
    ts.revoke_all()
    oenv.deliver(oenv.sample("01-botol-retak.eml"))
    result = oenv.run("poll")  # catch_exceptions=False: a traceback would fail the test
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    message = lines[-1]
    assert message.startswith("mailproc: error: the OAuth2 refresh token for "
                              f"{oenv.inbox} was refused (invalid_grant: AADSTS70000")
    assert message.endswith("it expired or was revoked; sign in again with "
                            "`mailproc auth login --provider microsoft`")
    assert "Traceback" not in result.output
    assert len(oenv.dovecot.fetch_raw(oenv.inbox)) == 1  # still in INBOX, untouched
    assert oenv.run("complaints", "list", "--json").stdout.strip() == "[]"


def test_queued_mail_is_deferred_not_failed_when_the_smtp_token_is_revoked(oenv: OAuthEnv):
    """Mail read with a password, sent with OAuth2 whose grant was revoked: the
    acknowledgement stays queued with the reason, nothing fails."""
    ts = oenv.tokens
    oenv.write_oauth_config(mailbox_auth="password")
    oenv.seed_token()  # looks valid; the SMTP server refuses it, the refresh is refused
    ts.revoke_all()
    oenv.deliver(oenv.sample("01-botol-retak.eml"))
    summary = oenv.poll()
    assert summary["outcomes"] == {"complaint": 1}
    assert summary["sent"] == 0 and summary["failed"] == 0 and summary["deferred"] == 4
    assert oenv.relay.auth_attempts == [(oenv.inbox, False)]  # refused once, then no token
    rows = oenv.outbox()
    assert {r["status"] for r in rows} == {"queued"}
    assert all("sign in again with `mailproc auth login --provider microsoft`"
               in r["last_error"] for r in rows)

    # After a new sign-in the queue goes out.
    oenv.seed_token()
    oenv.relay.auth_attempts.clear()
    time.sleep(1.2)  # outbox.backoff_seconds = 1 in the test configuration
    flushed = oenv.run("outbox", "flush")
    assert flushed.exit_code == 0, flushed.output
    assert {r["status"] for r in oenv.outbox()} == {"sent"}


def test_client_secret_stays_out_of_logs_outputs_and_the_token_file(
        oenv: OAuthEnv, caplog: pytest.LogCaptureFixture):
    ts = oenv.tokens
    secret = "s3cr3t-" + uuid.uuid4().hex
    ts.client_secret = secret  # the server now insists on it (Google's installed apps)
    oenv.seed_token(expired=True)
    env = {"MAILPROC_OAUTH_CLIENT_SECRET": secret}
    oenv.deliver(oenv.sample("01-botol-retak.eml"))
    caplog.set_level(logging.DEBUG)
    result = oenv.run("-v", "poll", "--json", env=env)
    assert result.exit_code == 0, result.output
    [grant] = ts.seen.grants("refresh_token")
    assert grant["client_secret"] == secret  # it was used …
    status = oenv.run("auth", "status", env=env)
    assert status.exit_code == 0, status.output
    assert f"account:       {oenv.inbox}" in status.output
    assert "refresh token: present" in status.output and "(mode 0600)" in status.output
    # … and appears nowhere else.
    assert secret not in result.output and secret not in status.output
    assert secret not in caplog.text
    assert secret not in oenv.token_file.read_text()
    settings = load_settings(oenv.config, env=env)
    assert settings.oauth.client_secret == secret and secret not in repr(settings)
    token = oauth.load_token(oenv.token_file)
    assert token is not None and token.access_token not in repr(token)
