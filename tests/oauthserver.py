"""An OAuth2 authorization server on loopback for the XOAUTH2 tests, plus the mail servers
that check its tokens: a Dovecot whose `oauth2` passdb asks this server's introspection
endpoint (RFC 7662), and an aiosmtpd relay with an AUTH XOAUTH2 handler that does the same.

The token server speaks what mailproc uses: the refresh_token grant (RFC 6749), the
device-code flow (RFC 8628; approved after one `authorization_pending` poll), the
authorization-code grant with PKCE behind a redirecting /authorize (RFC 7636), and
revocation. Access tokens are opaque random strings with a server-side expiry.

No pytest dependency, like servers.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult
from servers import HOST, Dovecot, SmtpRelay, _RelayHandler, free_port


@dataclass
class Grant:
    """One refresh token and the account it belongs to."""

    account: str
    client_id: str
    revoked: bool = False


@dataclass
class AccessToken:
    account: str
    expires: float  # time.time()
    revoked: bool = False


@dataclass
class DeviceCode:
    client_id: str
    account: str
    polls: int = 0


@dataclass
class Requests:
    """What the server saw, for assertions (form fields, secrets included)."""

    token: list[dict[str, str]] = field(default_factory=list)
    introspect: int = 0
    devicecode: int = 0

    def grants(self, kind: str) -> list[dict[str, str]]:
        return [r for r in self.token if r.get("grant_type") == kind]


class TokenServer:
    """POST /token, POST /devicecode, GET /authorize, POST /introspect on 127.0.0.1.

    Every account is accepted; `account` names whom the device code and /authorize sign in.
    """

    host = HOST

    def __init__(self, client_id: str = "mailproc-test-client", client_secret: str = "",
                 access_lifetime: int = 3600, account: str = "") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_lifetime = access_lifetime
        self.account = account
        self.seen = Requests()
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, Grant] = {}
        self.devices: dict[str, DeviceCode] = {}
        self.codes: dict[str, dict[str, str]] = {}
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._httpd is not None, "not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> TokenServer:
        server = self

        class Handler(_Handler):
            token_server = server

        self._httpd = ThreadingHTTPServer((self.host, 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- tokens ------------------------------------------------------------------------

    def issue(self, account: str, client_id: str | None = None,
              refresh_token: str | None = None) -> dict[str, Any]:
        """A token answer for `account` (a new refresh token unless one is given)."""
        with self.lock:
            access = "at-" + secrets.token_urlsafe(24)
            self.access[access] = AccessToken(account, time.time() + self.access_lifetime)
            if refresh_token is None:
                refresh_token = "rt-" + secrets.token_urlsafe(24)
                self.refresh[refresh_token] = Grant(account, client_id or self.client_id)
        return {"access_token": access, "token_type": "Bearer",
                "expires_in": self.access_lifetime, "refresh_token": refresh_token,
                "scope": "test.mail"}

    def valid(self, access_token: str) -> str | None:
        """The account of a valid access token, else None."""
        with self.lock:
            tok = self.access.get(access_token)
            if tok is None or tok.revoked or tok.expires <= time.time():
                return None
            return tok.account

    def expire_access_tokens(self) -> None:
        with self.lock:
            for tok in self.access.values():
                tok.expires = 0

    def revoke_access_tokens(self) -> None:
        with self.lock:
            for tok in self.access.values():
                tok.revoked = True

    def revoke_all(self) -> None:
        """What an administrator revoking the app's sessions does: every token dies."""
        with self.lock:
            for grant in self.refresh.values():
                grant.revoked = True
            for tok in self.access.values():
                tok.revoked = True

    # ---- endpoints (called from the handler thread) --------------------------------------

    def _client_ok(self, form: dict[str, str]) -> bool:
        if form.get("client_id") != self.client_id:
            return False
        return not self.client_secret or form.get("client_secret") == self.client_secret

    def token_endpoint(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.seen.token.append(dict(form))
        if not self._client_ok(form):
            return 401, {"error": "invalid_client", "error_description": "unknown client"}
        kind = form.get("grant_type")
        if kind == "refresh_token":
            with self.lock:
                grant = self.refresh.get(form.get("refresh_token", ""))
                bad = grant is None or grant.revoked
            if bad or grant is None:
                return 400, {"error": "invalid_grant", "error_description":
                             "AADSTS70000: The refresh token has been revoked.\r\nTrace ID: x"}
            return 200, self.issue(grant.account, refresh_token=form["refresh_token"])
        if kind == "urn:ietf:params:oauth:grant-type:device_code":
            with self.lock:
                device = self.devices.get(form.get("device_code", ""))
                if device is not None:
                    device.polls += 1
            if device is None:
                return 400, {"error": "expired_token"}
            if device.polls < 2:
                return 400, {"error": "authorization_pending"}
            with self.lock:
                del self.devices[form["device_code"]]
            return 200, self.issue(device.account)
        if kind == "authorization_code":
            with self.lock:
                code = self.codes.pop(form.get("code", ""), None)
            if code is None or code["redirect_uri"] != form.get("redirect_uri"):
                return 400, {"error": "invalid_grant", "error_description": "bad code"}
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                                 ).rstrip(b"=").decode()
            if challenge != code["code_challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE mismatch"}
            return 200, self.issue(code["account"])
        return 400, {"error": "unsupported_grant_type"}

    def devicecode_endpoint(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.seen.devicecode += 1
        if form.get("client_id") != self.client_id:
            return 400, {"error": "invalid_client"}
        device = "dc-" + secrets.token_urlsafe(16)
        with self.lock:
            self.devices[device] = DeviceCode(form["client_id"], self.account)
        return 200, {"device_code": device, "user_code": "TESTCODE",
                     "verification_uri": f"{self.url}/device", "expires_in": 60,
                     "interval": 1, "message": "Enter TESTCODE"}

    def authorize(self, query: dict[str, str]) -> str:
        """The Location of the redirect back to the client, as a consenting browser gets."""
        code = "ac-" + secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {"redirect_uri": query["redirect_uri"],
                                "code_challenge": query.get("code_challenge", ""),
                                "account": query.get("login_hint") or self.account}
        return query["redirect_uri"] + "?" + urlencode({"code": code,
                                                         "state": query.get("state", "")})

    def introspect(self, form: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            self.seen.introspect += 1
        account = self.valid(form.get("token", ""))
        if account is None:
            return {"active": False}
        return {"active": True, "username": account, "token_type": "Bearer"}

    def introspect_remote(self, access_token: str) -> str | None:
        """Ask the introspection endpoint over HTTP, as a mail server would."""
        data = urlencode({"token": access_token}).encode()
        with urllib.request.urlopen(f"{self.url}/introspect", data=data, timeout=5) as resp:
            answer = json.loads(resp.read())
        return answer.get("username") if answer.get("active") is True else None


class _Handler(BaseHTTPRequestHandler):
    token_server: TokenServer

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}

    def _json(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        form = self._form()
        ts = self.token_server
        if path.endswith("/token"):
            self._json(*ts.token_endpoint(form))
        elif path.endswith("/devicecode"):
            self._json(*ts.devicecode_endpoint(form))
        elif path.endswith("/introspect"):
            self._json(200, ts.introspect(form))
        else:
            self._json(404, {"error": "not_found"})

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        if parts.path.endswith(("/authorize", "/auth")):  # Microsoft's, Google's
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            self.send_response(302)
            self.send_header("Location", self.token_server.authorize(query))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._json(404, {"error": "not_found"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class OAuthDovecot(Dovecot):
    """A Dovecot that also accepts AUTHENTICATE XOAUTH2 / OAUTHBEARER, checking each token
    with `tokens`' introspection endpoint (passdb oauth2, introspection_mode = post). The
    static password passdb stays for the test helpers (deliver, fetch_raw)."""

    def __init__(self, workdir: Path, tokens: TokenServer, password: str = "secret") -> None:
        super().__init__(workdir, password)
        self.tokens = tokens
        self.oauth2_conf = self.workdir / "dovecot-oauth2.conf.ext"

    def _config(self) -> str:
        self.oauth2_conf.write_text(
            f"introspection_mode = post\n"
            f"introspection_url = {self.tokens.url}/introspect\n"
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n")
        base = super()._config()
        replaced = base.replace(
            "auth_mechanisms = plain login\n",
            "auth_mechanisms = plain login xoauth2 oauthbearer\n", 1).replace(
            "passdb {\n  driver = static\n",
            f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {self.oauth2_conf}\n}}\n"
            "passdb {\n  driver = static\n  mechanisms = plain login none\n", 1).replace(
            # Refused tokens are part of the tests: no per-IP auth penalty (documented way).
            "service anvil {\n",
            "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n", 1)
        if (replaced.count("driver = oauth2") != 1 or "xoauth2 oauthbearer\n" not in replaced
                or "anvil-auth-penalty" not in replaced):
            raise RuntimeError("servers.Dovecot._config changed: update OAuthDovecot")
        return replaced + "auth_failure_delay = 0\n"


class _XOAuth2Handler(_RelayHandler):
    """The relay's handler plus AUTH XOAUTH2, validated against the token server."""

    def __init__(self, relay: OAuthSmtpRelay) -> None:
        super().__init__(relay)
        self.oauth_relay = relay

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        if len(args) == 2:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        else:
            answer = await server.challenge_auth("", encode_to_b64=False)
            if not isinstance(answer, bytes):
                return AuthResult(success=False, handled=True)
            blob = answer
        fields = dict(part.split("=", 1) for part in blob.decode("utf-8", "replace")
                      .split("\x01") if "=" in part)
        user = fields.get("user", "")
        token = fields.get("auth", "").removeprefix("Bearer ")
        relay = self.oauth_relay
        account = await asyncio.get_running_loop().run_in_executor(
            None, relay.tokens.introspect_remote, token)
        with relay._lock:
            relay.auth_attempts.append((user, account is not None))
        if account is not None and account.lower() == user.lower():
            return AuthResult(success=True, auth_data=user)
        # RFC 7628 / Google's XOAUTH2: an error challenge, the client answers empty, then 535.
        error = json.dumps({"status": "401", "schemes": "bearer", "scope": "test.mail"})
        await server.challenge_auth(error.encode())
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Username and Password not accepted")


class OAuthSmtpRelay(SmtpRelay):
    """SmtpRelay that requires AUTH XOAUTH2 (on plain loopback) before MAIL FROM."""

    def __init__(self, dovecot: Dovecot, tokens: TokenServer) -> None:
        super().__init__(dovecot)
        self.tokens = tokens
        self.auth_attempts: list[tuple[str, bool]] = []

    def start(self) -> None:
        if self._controller is not None:
            return
        if not self.port:
            self.port = free_port()
        controller = Controller(
            _XOAuth2Handler(self), hostname=self.host, port=self.port,
            server_hostname="localhost", ready_timeout=5.0,
            auth_required=True, auth_require_tls=False,
            auth_exclude_mechanism=["PLAIN", "LOGIN"])
        controller.start()
        self._controller = controller
