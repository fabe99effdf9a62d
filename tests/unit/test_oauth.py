"""mailproc.oauth without mail servers: the [oauth] settings, the token file, the refresh
against a token endpoint on loopback (tests/oauthserver.py), and the Google installed-app
sign-in (loopback redirect + PKCE) driven by a stand-in browser."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import ssl
import stat
import subprocess
import threading
import urllib.request
import webbrowser
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from appfixture import write_config
from click.testing import CliRunner
from oauthserver import TokenServer
from servers import free_port

from mailproc import oauth
from mailproc.cli import cli
from mailproc.config import load_settings
from mailproc.errors import ConfigError, OAuthError, OAuthLoginNeeded
from mailproc.oauth import Token
from mailproc.outgoing.transports import _xoauth2_responder

CLIENT_ID = "unit-client"
IMAP_URL = "imaps://keluhan%40contoh.co.id@outlook.office365.com/INBOX"
SMTP_URL = "smtp://keluhan%40contoh.co.id@smtp.office365.com:587?starttls=1"


@pytest.fixture
def server() -> Iterator[TokenServer]:
    with TokenServer(client_id=CLIENT_ID, account="keluhan@contoh.co.id") as ts:
        yield ts


def oauth_config(tmp_path: Path, oauth_table: str, *, auth: str = "oauth2") -> Path:
    config = write_config(tmp_path, extra=oauth_table)
    text = config.read_text()
    assert text.count('auth = "password"\n') == 2  # mailbox.auth and smtp.auth
    config.write_text(text.replace('auth = "password"\n', f'auth = "{auth}"\n'))
    return config


URL_ENV = {"MAILPROC_MAILBOX_URL": IMAP_URL, "MAILPROC_SMTP_URL": SMTP_URL}


def settings_for(tmp_path: Path, server: TokenServer | None = None, extra: str = "",
                 env: dict[str, str] | None = None):
    base = server.url if server else "https://login.example.test"
    config = oauth_config(tmp_path, f"""
[oauth]
provider = "microsoft"
client_id = "{CLIENT_ID}"
tenant = "contoh-test"
token_url = "{base}/{{tenant}}/oauth2/v2.0/token"
device_code_url = "{base}/{{tenant}}/oauth2/v2.0/devicecode"
{extra}
""")
    return load_settings(config, URL_ENV | (env or {}))


def store(settings, server: TokenServer, *, expires_in: timedelta) -> Token:
    answer = server.issue("keluhan@contoh.co.id")
    now = datetime.now(UTC)
    token = Token(provider="microsoft", client_id=CLIENT_ID, account="keluhan@contoh.co.id",
                  access_token=answer["access_token"], refresh_token=answer["refresh_token"],
                  expires_at=now + expires_in, obtained_at=now)
    oauth.save_token(settings.oauth.token_file, token)
    return token


# ---- settings -------------------------------------------------------------------------

def test_oauth_settings_are_read_and_the_secret_kept_out_of_reprs(tmp_path: Path):
    s = settings_for(tmp_path, extra='client_secret = "from-file"\nrefresh_margin_seconds = 60',
                     env={"MAILPROC_OAUTH_CLIENT_SECRET": "from-env"})
    assert s.mailbox.auth == "oauth2" and s.smtp.auth == "oauth2"
    assert s.oauth.provider == "microsoft" and s.oauth.client_id == CLIENT_ID
    assert s.oauth.client_secret == "from-env"  # the environment wins over the file
    assert s.oauth.refresh_margin == 60
    assert s.oauth.token_file == tmp_path / "var" / "oauth-token.json"  # the state folder
    assert "from-env" not in repr(s)
    client = oauth.client_from(s.oauth)
    assert client.token_url == "https://login.example.test/contoh-test/oauth2/v2.0/token"
    assert "from-env" not in repr(client)


@pytest.mark.parametrize("table,key", [
    ('[oauth]\nprovider = "yahoo"\nclient_id = "x"', "oauth.provider"),
    ('[oauth]\nprovider = "microsoft"', "oauth.client_id"),
    ('[oauth]\nclient_id = "x"', "oauth.provider"),
    ('[oauth]\nprovider = "microsoft"\nclient_id = "x"\ntoken_url = "http://login.example/t"',
     "oauth.token_url"),
    ('[oauth]\nprovider = "generic"\nclient_id = "x"', "oauth.token_url"),
])
def test_bad_oauth_settings_name_the_key(tmp_path: Path, table: str, key: str):
    config = oauth_config(tmp_path, table)
    with pytest.raises(ConfigError, match=key):
        load_settings(config, URL_ENV)


def test_auth_must_be_password_or_oauth2_and_oauth2_needs_a_user_and_tls(tmp_path: Path):
    table = '[oauth]\nprovider = "google"\nclient_id = "x"'
    with pytest.raises(ConfigError, match="mailbox.auth: must be"):
        load_settings(oauth_config(tmp_path, table, auth="token"), URL_ENV)
    config = oauth_config(tmp_path, table)
    with pytest.raises(ConfigError, match="mailbox.auth is oauth2: put the"):
        load_settings(config, URL_ENV | {"MAILPROC_MAILBOX_URL": "imaps://imap.gmail.com/"})
    with pytest.raises(ConfigError, match="smtp.auth is oauth2: the token must not"):
        load_settings(config, URL_ENV | {"MAILPROC_SMTP_URL": "smtp://a%40b.c@smtp.gmail.com"})
    # The example configuration (Maildir, password) needs no [oauth] at all.
    assert load_settings(write_config(tmp_path)).oauth.provider == ""


def test_provider_defaults():
    from mailproc.config import OAuthSettings

    ms = oauth.client_from(OAuthSettings(provider="microsoft", client_id="c", tenant="t1"))
    assert ms.token_url == "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
    assert ms.device_code_url == "https://login.microsoftonline.com/t1/oauth2/v2.0/devicecode"
    assert ms.scopes.split() == ["https://outlook.office.com/IMAP.AccessAsUser.All",
                                 "https://outlook.office.com/SMTP.Send", "offline_access"]
    assert ms.flow == "device"
    google = oauth.client_from(OAuthSettings(provider="microsoft", client_id="c"),
                               provider="google", client_id="g")
    assert google.token_url == "https://oauth2.googleapis.com/token"
    assert google.scopes == "https://mail.google.com/" and google.flow == "browser"
    assert google.client_id == "g"
    with pytest.raises(ConfigError, match="oauth.client_id: not set"):
        oauth.client_from(OAuthSettings(provider="microsoft"))


def test_login_without_a_client_id_says_what_to_register(tmp_path: Path):
    config = write_config(tmp_path)  # Maildir + password: [oauth] not needed yet
    for provider, words in (("microsoft", ["Entra ID", "Allow public client flows",
                                           "IMAP.AccessAsUser.All", "SMTP.Send",
                                           "admin consent", "Authenticated SMTP"]),
                            ("google", ["Desktop app", "https://mail.google.com/",
                                        "Internal", "MAILPROC_OAUTH_CLIENT_SECRET"])):
        result = CliRunner().invoke(cli, ["--config", str(config), "auth", "login",
                                          "--provider", provider])
        assert result.exit_code == 2, result.output
        assert all(w in result.output for w in words), result.output
        assert result.output.strip().splitlines()[-1].startswith(
            "mailproc: error: oauth.client_id: not set")


# ---- the token file -----------------------------------------------------------------

def test_token_file_is_0600_whatever_the_umask_and_others_cannot_read_it(tmp_path: Path):
    path = tmp_path / "state" / "oauth-token.json"
    now = datetime.now(UTC).replace(microsecond=0)
    token = Token(provider="google", client_id="c", account="a@b.c", access_token="AT",
                  refresh_token="RT", expires_at=now, obtained_at=now, scope="s")
    umask = os.umask(0)
    try:
        oauth.save_token(path, token)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert oauth.load_token(path) == token
    assert "AT" not in repr(token) and "RT" not in repr(token)
    path.chmod(0o644)
    with pytest.raises(OAuthError, match="chmod 600"):
        oauth.load_token(path)
    path.chmod(0o600)
    path.write_text("{not json")
    with pytest.raises(OAuthLoginNeeded, match="auth login"):
        oauth.load_token(path)
    assert oauth.load_token(tmp_path / "absent.json") is None


# ---- refresh --------------------------------------------------------------------------

def test_token_is_refreshed_within_the_margin_only(tmp_path: Path, server: TokenServer):
    s = settings_for(tmp_path, server)
    source = oauth.token_source(s, "mailbox")
    assert source is not None
    fresh = store(s, server, expires_in=timedelta(minutes=10))
    assert source.access_token() == fresh.access_token
    assert not server.seen.grants("refresh_token")

    soon = store(s, server, expires_in=timedelta(minutes=4))  # within the 5-minute margin
    new = source.access_token()
    assert new != soon.access_token and server.valid(new) == "keluhan@contoh.co.id"
    [grant] = server.seen.grants("refresh_token")
    assert grant["refresh_token"] == soon.refresh_token
    assert grant["scope"] == oauth.PROVIDERS["microsoft"].scopes
    stored = oauth.load_token(s.oauth.token_file)
    assert stored is not None and stored.access_token == new
    assert stored.refresh_token == soon.refresh_token  # kept when none comes back rotated
    assert source.access_token() == new  # stored, so no second refresh
    assert len(server.seen.grants("refresh_token")) == 1


def test_refresh_refused_or_unreachable_says_what_to_do(tmp_path: Path, server: TokenServer):
    s = settings_for(tmp_path, server)
    source = oauth.token_source(s, "smtp")
    assert source is not None
    with pytest.raises(OAuthLoginNeeded, match="no OAuth2 token yet"):
        source.access_token()
    store(s, server, expires_in=timedelta(0))
    server.revoke_all()
    with pytest.raises(OAuthLoginNeeded) as err:
        source.access_token()
    assert str(err.value).startswith("the OAuth2 refresh token for keluhan@contoh.co.id was "
                                     "refused (invalid_grant: AADSTS70000")
    assert "\n" not in str(err.value)
    assert str(err.value).endswith("`mailproc auth login --provider microsoft`")

    source.client = dataclasses.replace(  # nobody listens there
        source.client, token_url=f"http://127.0.0.1:{free_port()}/token", timeout=5)
    with pytest.raises(OAuthError, match="cannot reach the OAuth2 token endpoint") as err2:
        source.access_token()
    assert not isinstance(err2.value, OAuthLoginNeeded)  # transient: tried again later


class _Canned(BaseHTTPRequestHandler):
    """A token endpoint gone wrong: /redirect, /html and /busy answer what their name says."""

    hits: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        self.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, body = {
            "/redirect": (307, {"Location": "/elsewhere"}, b""),
            "/html": (200, {"Content-Type": "text/html"}, b"<html>proxy login</html>"),
            "/busy": (503, {"Content-Type": "application/json"},
                      b'{"error": "temporarily_unavailable", "error_description": "later"}'),
        }.get(self.path, (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_odd_token_endpoint_answers_are_transient_errors_with_the_status(
        tmp_path: Path, server: TokenServer):
    s = settings_for(tmp_path, server)
    source = oauth.token_source(s, "mailbox")
    assert source is not None
    store(s, server, expires_in=timedelta(0))
    httpd = HTTPServer(("127.0.0.1", 0), _Canned)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        for path, words in (("/redirect", "answered HTTP 307 without a JSON object"),
                            ("/html", "answered HTTP 200 without a JSON object"),
                            ("/busy", "failed (temporarily_unavailable: later); it is tried "
                                      "again at the next poll")):
            source.client = dataclasses.replace(source.client, token_url=base + path)
            with pytest.raises(OAuthError, match=re.escape(words)) as err:
                source.access_token()
            assert not isinstance(err.value, OAuthLoginNeeded)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert "/elsewhere" not in _Canned.hits  # a redirect is not followed with the form

    source.client = dataclasses.replace(source.client, token_url="http://login.example.test/t")
    with pytest.raises(ConfigError, match="must be an https:// URL"):
        source.access_token()


def test_an_untrusted_certificate_is_named(tmp_path: Path, server: TokenServer):
    openssl = shutil.which("openssl")
    if openssl is None:  # fail, not skip: a skip would hide a missing install step in CI
        pytest.fail("openssl not found: run .ci/install", pytrace=False)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-nodes", "-days", "1", "-newkey", "rsa:2048",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = HTTPServer(("127.0.0.1", 0), _Canned)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    s = settings_for(tmp_path, server)
    source = oauth.token_source(s, "mailbox")
    assert source is not None
    store(s, server, expires_in=timedelta(0))
    source.client = dataclasses.replace(
        source.client, token_url=f"https://127.0.0.1:{httpd.server_address[1]}/html")
    try:
        with pytest.raises(OAuthError, match="TLS certificate of the token endpoint "
                                             r"127\.0\.0\.1:\d+ not trusted"):
            source.access_token()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_token_of_another_client_is_not_used(tmp_path: Path, server: TokenServer):
    s = settings_for(tmp_path, server)
    now = datetime.now(UTC)
    oauth.save_token(s.oauth.token_file, Token(
        provider="google", client_id="other", account="x", access_token="a",
        refresh_token="r", expires_at=now + timedelta(hours=1), obtained_at=now))
    source = oauth.token_source(s, "mailbox")
    assert source is not None
    with pytest.raises(OAuthLoginNeeded, match="obtained for provider google"):
        source.access_token()


def test_xoauth2_strings():
    assert oauth.xoauth2_string("a@b.c", "TOK") == "user=a@b.c\x01auth=Bearer TOK\x01\x01"
    respond = _xoauth2_responder("a@b.c", "TOK")
    assert respond() == "user=a@b.c\x01auth=Bearer TOK\x01\x01"
    assert respond(b'{"status":"401"}') == ""  # the answer to the error challenge


# ---- sign-in --------------------------------------------------------------------------

def test_google_installed_app_sign_in_with_pkce(tmp_path: Path, server: TokenServer,
                                                monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture):
    server.client_secret = "desktop-secret"
    config = oauth_config(tmp_path, f"""
[oauth]
provider = "google"
client_id = "{CLIENT_ID}"
token_url = "{server.url}/token"
authorize_url = "{server.url}/o/oauth2/v2/auth?hd=contoh.co.id"
""")
    text = config.read_text()
    assert text.count('\nlevel = "INFO"\n') == 1  # [logging]: DEBUG for urllib3 and Authlib
    config.write_text(text.replace('\nlevel = "INFO"\n', '\nlevel = "DEBUG"\n'))
    caplog.set_level(logging.DEBUG)
    opened: list[str] = []

    def browser(url: str) -> bool:
        """Consent at once: GET the authorize URL and follow its redirect to mailproc."""
        opened.append(url)
        threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=10).read(),
                         daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browser)  # oauth imports it when it opens one
    monkeypatch.setattr(oauth, "BROWSER_WAIT_SECONDS", 20)  # a failure must not hang
    env = URL_ENV | {"MAILPROC_OAUTH_CLIENT_SECRET": "desktop-secret"}
    result = CliRunner().invoke(cli, ["--config", str(config), "auth", "login"], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [url] = opened
    # The configured query is kept and the parameters added (their order is Authlib's).
    assert url.startswith(f"{server.url}/o/oauth2/v2/auth?hd=contoh.co.id&")
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["state"][0] and query["code_challenge"][0]
    assert "code_challenge_method=S256" in url and "access_type=offline" in url
    assert "scope=https%3A%2F%2Fmail.google.com%2F" in url
    [grant] = server.seen.grants("authorization_code")  # PKCE checked by the server
    assert grant["redirect_uri"].startswith("http://127.0.0.1:")
    assert grant["client_secret"] == "desktop-secret"
    assert "desktop-secret" not in result.output
    stored = oauth.load_token(tmp_path / "var" / "oauth-token.json")
    assert stored is not None
    for secret in ("desktop-secret", grant["code"], grant["code_verifier"],
                   stored.access_token, stored.refresh_token):
        assert secret not in caplog.text and secret not in result.output
    assert "signed in as keluhan@contoh.co.id (google)" in result.output

    status = CliRunner().invoke(cli, ["--config", str(config), "auth", "status", "--json"],
                                env=env)
    assert status.exit_code == 0, status.output
    info = json.loads(status.stdout)
    assert info["provider"] == "google" and info["mode"] == "0600"
    assert info["refresh_token"] is True and info["matches_config"] is True


def test_status_without_a_token_says_how_to_sign_in(tmp_path: Path, server: TokenServer):
    config = oauth_config(tmp_path, f'[oauth]\nprovider = "microsoft"\nclient_id = "c"\n'
                                    f'token_url = "{server.url}/token"')
    result = CliRunner().invoke(cli, ["--config", str(config), "auth", "status"], env=URL_ENV)
    assert result.exit_code == 1
    assert "no OAuth2 token" in result.output
    assert "`mailproc auth login --provider microsoft`" in result.output
