"""OAuth2 tokens for XOAUTH2 logins to IMAP and SMTP (Microsoft 365, Gmail / Google Workspace).

This module owns the tokens: the first sign-in (`mailproc auth login`: the device-code flow for
Microsoft, the installed-app flow with a loopback redirect and PKCE for Google), the token file
(JSON, mode 0600, in the state folder unless `oauth.token_file` says otherwise; never in the
configuration) and the refresh with the standard refresh_token grant shortly before the access
token expires. mailbox.py and transports.py only ask `TokenSource.access_token()`.

The OAuth2 protocol is Authlib's (`authlib.integrations.requests_client.OAuth2Session`): the
authorization URL with state and PKCE S256 (RFC 7636), the token requests of the
authorization-code, device-code (RFC 8628) and refresh_token grants, client authentication
and the reading of error answers. Authlib implements only the server side of RFC 8628, so the
device authorization request is one POST made here with the same session. What stays
mailproc's: the provider table, the loopback redirect catcher, the token file, the lock, the
refresh margin and what each error means for the user.

TLS certificates are verified (requests' default); endpoints must be https, plain http is
accepted only for loopback addresses (config.py, and again before each request here). Authlib's
client needs no insecure-transport switch for that: mailproc's rule is the only one applied.
Redirects from an endpoint are not followed, so a form with the client secret goes nowhere else.

Nothing here logs a token, a refresh token, an authorization code or the client secret.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import html
import json
import logging
import os
import secrets
import ssl
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from mailproc.config import OAuthSettings, Settings, secure_endpoint
from mailproc.errors import ConfigError, OAuthError, OAuthLoginNeeded

if TYPE_CHECKING:  # imported where used: a poll with passwords does not pay for them
    import requests
    from authlib.integrations.requests_client import OAuth2Session

log = logging.getLogger(__name__)

TOKEN_FILE_VERSION = 1
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
BROWSER_WAIT_SECONDS = 300  # how long the installed-app flow waits for the redirect


@dataclass(frozen=True)
class Provider:
    name: str
    token_url: str
    device_code_url: str  # '' when the provider has no device flow for mail scopes
    authorize_url: str
    scopes: str
    flow: str  # 'device' or 'browser'
    scope_on_refresh: bool  # send `scope` with the refresh grant (Microsoft wants it)
    register: str  # what to register with the provider, shown by `auth login`


_MS = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"

PROVIDERS: dict[str, Provider] = {
    "microsoft": Provider(
        name="microsoft",
        token_url=_MS + "/token",
        device_code_url=_MS + "/devicecode",
        authorize_url=_MS + "/authorize",
        scopes="https://outlook.office.com/IMAP.AccessAsUser.All "
               "https://outlook.office.com/SMTP.Send offline_access",
        flow="device",
        scope_on_refresh=True,
        register=(
            "Register mailproc in Microsoft Entra ID (entra.microsoft.com > App registrations >"
            " New registration): single tenant; Authentication > 'Allow public client flows' ="
            " Yes; API permissions > Microsoft Graph > Delegated: IMAP.AccessAsUser.All,"
            " SMTP.Send, offline_access, then 'Grant admin consent'. In Exchange, IMAP and"
            " Authenticated SMTP must be on for the mailbox. Put the Application (client) ID"
            " in oauth.client_id and the Directory (tenant) ID in oauth.tenant."),
    ),
    "google": Provider(
        name="google",
        token_url="https://oauth2.googleapis.com/token",
        device_code_url="",  # Google's device flow does not allow the mail scope
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        scopes="https://mail.google.com/",
        flow="browser",
        scope_on_refresh=False,
        register=(
            "Create an OAuth client in Google Cloud (console.cloud.google.com > APIs & Services"
            " > Credentials > Create credentials > OAuth client ID, type 'Desktop app'); the"
            " OAuth consent screen 'Internal' (Workspace) with the scope"
            " https://mail.google.com/. Put the client ID in oauth.client_id and the client"
            " secret in MAILPROC_OAUTH_CLIENT_SECRET."),
    ),
    "generic": Provider(
        name="generic", token_url="", device_code_url="", authorize_url="", scopes="",
        flow="device", scope_on_refresh=True,
        register="Set oauth.token_url and oauth.device_code_url (or oauth.authorize_url) "
                 "to your provider's endpoints, and oauth.client_id / oauth.scopes.",
    ),
}


@dataclass(frozen=True)
class Client:
    """The configured client with its endpoints resolved (provider defaults + overrides)."""

    provider: str
    client_id: str
    client_secret: str = field(repr=False)
    token_url: str
    device_code_url: str
    authorize_url: str
    scopes: str
    flow: str
    scope_on_refresh: bool
    token_file: Path
    refresh_margin: float
    timeout: float


def client_from(cfg: OAuthSettings, *, provider: str | None = None,
                client_id: str | None = None, tenant: str | None = None) -> Client:
    """Resolve the endpoints; `provider` / `client_id` / `tenant` override the configuration
    (the options of `mailproc auth login`)."""
    name = provider or cfg.provider
    if not name:
        raise ConfigError("oauth.provider: not set; pass --provider microsoft|google or set "
                          "it in [oauth] of the configuration (see README)")
    if name not in PROVIDERS:
        raise ConfigError(f"oauth.provider: unknown provider {name!r}; use microsoft, google "
                          "or generic")
    p = PROVIDERS[name]
    same = name == cfg.provider or not cfg.provider  # config endpoints are for this provider
    ten = tenant or cfg.tenant or "organizations"

    def url(configured: str, default: str) -> str:
        return (configured if same and configured else default).replace("{tenant}", ten)

    cid = client_id or cfg.client_id
    if not cid:
        raise ConfigError("oauth.client_id: not set; register mailproc with the provider (see "
                          "README), then pass --client-id or set it in [oauth]")
    token_url = url(cfg.token_url, p.token_url)
    if not token_url:
        raise ConfigError("oauth.token_url: provider generic needs the token endpoint")
    return Client(
        provider=name, client_id=cid, client_secret=cfg.client_secret if same else "",
        token_url=token_url, device_code_url=url(cfg.device_code_url, p.device_code_url),
        authorize_url=url(cfg.authorize_url, p.authorize_url),
        scopes=(cfg.scopes if same and cfg.scopes else p.scopes),
        flow=p.flow, scope_on_refresh=p.scope_on_refresh, token_file=cfg.token_file,
        refresh_margin=cfg.refresh_margin, timeout=cfg.timeout,
    )


# ---- the token file ---------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    provider: str
    client_id: str
    account: str  # whom the token is for (from the token when it says, else the config)
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime  # aware UTC
    obtained_at: datetime  # aware UTC, of the last grant (login or refresh)
    scope: str = ""

    def expires_within(self, now: datetime, seconds: float) -> bool:
        return self.expires_at - now <= timedelta(seconds=seconds)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def load_token(path: Path) -> Token | None:
    """The stored token, or None when there is no token file. A file others can read is
    refused: it holds a credential to the mailbox."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_mode & 0o077:
        raise OAuthError(f"{path}: the token file is readable by other users (mode "
                         f"{stat.S_IMODE(st.st_mode):04o}); run `chmod 600 {path}`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != TOKEN_FILE_VERSION:
            raise ValueError(f"unknown version {data.get('version')!r}")
        return Token(
            provider=data["provider"], client_id=data["client_id"],
            account=data.get("account", ""), access_token=data["access_token"],
            refresh_token=data.get("refresh_token", ""),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            obtained_at=datetime.fromisoformat(data["obtained_at"]),
            scope=data.get("scope", ""),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OAuthLoginNeeded(f"{path}: unreadable token file ({exc}); sign in again with "
                               "`mailproc auth login`") from None


def save_token(path: Path, token: Token) -> None:
    """Write atomically with mode 0600 from the first byte (created 0600, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(token)
    data["expires_at"] = token.expires_at.isoformat()
    data["obtained_at"] = token.obtained_at.isoformat()
    data = {"version": TOKEN_FILE_VERSION, **data}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)  # whatever the umask
            json.dump(data, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def _file_lock(path: Path):  # type: ignore[no-untyped-def]
    """Serialise refreshes between processes (`mailproc run` and a manual `outbox flush`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


# ---- talking to the endpoints (Authlib) -----------------------------------------------

_NO_REDIRECTS: dict[str, Any] = {"allow_redirects": False}  # never resend the form elsewhere


class _Refused(Exception):
    """An endpoint's OAuth2 error answer (RFC 6749 section 5.2, RFC 8628 section 3.5), or an
    error status without one. `text` is one line: the error code and the first line of its
    description (Microsoft's go on with trace IDs)."""

    def __init__(self, error: str, description: str | None = None, status: int = 0) -> None:
        self.error = error
        lines = str(description or "").strip().splitlines()
        if not error:
            self.text = f"HTTP {status}"
        else:
            self.text = f"{error}: {lines[0].strip()}" if lines else error
        super().__init__(self.text)


def _where(url: str) -> str:
    return urlsplit(url).netloc


def _json_object(resp: requests.Response) -> requests.Response:
    """An Authlib compliance hook (before it reads a token answer): an answer that is no JSON
    object (a proxy's error page, a redirect) is reported with its HTTP status."""
    try:
        ok = isinstance(resp.json(), dict)
    except ValueError:
        ok = False
    if not ok:
        raise OAuthError(f"the OAuth2 endpoint {_where(resp.url)} answered HTTP "
                         f"{resp.status_code} without a JSON object")
    return resp


def _session(client: Client, **options: Any) -> OAuth2Session:
    """An Authlib session for `client`. A client secret (Google's installed apps) is sent in
    the form (client_secret_post); a public client (Microsoft) sends only its client_id."""
    from authlib.integrations.requests_client import OAuth2Session

    for url in (client.token_url, client.device_code_url, client.authorize_url):
        if url and not secure_endpoint(url):
            raise ConfigError(f"OAuth2 endpoint {_where(url)}: must be an https:// URL")
    session = OAuth2Session(
        client_id=client.client_id, client_secret=client.client_secret or None,
        token_endpoint_auth_method="client_secret_post" if client.client_secret else "none",
        default_timeout=client.timeout, **options)
    session.headers["User-Agent"] = "mailproc"
    session.register_compliance_hook("access_token_response", _json_object)
    session.register_compliance_hook("refresh_token_response", _json_object)
    return session


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost error under a requests exception (requests' ConnectionError wraps
    urllib3's MaxRetryError, which wraps a NewConnectionError, which wraps the OSError)."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        reason = getattr(exc, "reason", None)
        if isinstance(reason, BaseException):
            inner: BaseException | None = reason
        elif exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        else:
            inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def _call(url: str, request: Callable[[], Any]) -> dict[str, Any]:
    """Run one request of the session. An OAuth2 error answer raises _Refused (the caller
    says what it means); an unreachable endpoint or an untrusted certificate OAuthError."""
    import requests
    from authlib.integrations.base_client import OAuthError as AuthlibOAuthError

    where = _where(url)
    try:
        return dict(request())
    except AuthlibOAuthError as exc:
        raise _Refused(str(exc.error or ""), exc.description) from None
    except requests.HTTPError as exc:  # Authlib's answer to a 5xx: read the error ourselves
        resp = exc.response
        data = resp.json() if resp is not None else {}
        raise _Refused(str(data.get("error") or ""), data.get("error_description"),
                       resp.status_code if resp is not None else 0) from None
    except requests.RequestException as exc:
        cause = _root_cause(exc)
        if isinstance(cause, ssl.SSLCertVerificationError):
            raise OAuthError(f"TLS certificate of the token endpoint {where} not trusted "
                             f"({cause.verify_message})") from None
        raise OAuthError(f"cannot reach the OAuth2 token endpoint {where}: {cause}") from None


def _account_from(answer: dict[str, Any], fallback: str) -> str:
    """Whom the token is for, read from an id_token or a JWT access token (Microsoft's are
    JWTs) when there is one; display only, so the signature is not checked."""
    for key in ("id_token", "access_token"):
        parts = str(answer.get(key, "")).split(".")
        if len(parts) != 3:
            continue
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (ValueError, TypeError):
            continue
        if isinstance(claims, dict):
            for claim in ("email", "preferred_username", "upn", "unique_name"):
                if isinstance(claims.get(claim), str) and claims[claim]:
                    return claims[claim]
    return fallback


def _token_from(client: Client, data: dict[str, Any], now: datetime, account: str,
                previous: Token | None = None) -> Token:
    """The token to store from a token answer (Authlib's OAuth2Token, a dict)."""
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthError(f"the token endpoint {_where(client.token_url)} answered without "
                         "an access_token")
    try:
        lifetime = int(data.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600
    refresh = data.get("refresh_token") or (previous.refresh_token if previous else "")
    return Token(
        provider=client.provider, client_id=client.client_id,
        account=_account_from(data, previous.account if previous else account),
        access_token=access, refresh_token=str(refresh),
        expires_at=now + timedelta(seconds=lifetime), obtained_at=now,
        scope=str(data.get("scope", client.scopes)),
    )


def _login_hint(client: Client) -> str:
    return f"sign in again with `mailproc auth login --provider {client.provider}`"


# ---- the token source used by IMAP and SMTP -------------------------------------------

class TokenSource:
    """Hands out a valid access token, refreshing it (and storing the result) when it
    expires within `oauth.refresh_margin_seconds`. Reads the file on every call, so a new
    `auth login` or another process's refresh is picked up at once."""

    def __init__(self, cfg: OAuthSettings, account: str,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.client = client_from(cfg)
        self.account = account
        self.clock = clock

    def access_token(self, *, force_refresh: bool = False) -> str:
        path = self.client.token_file
        token = self._stored(path)
        if not force_refresh and not token.expires_within(self.clock(),
                                                          self.client.refresh_margin):
            return token.access_token
        with _file_lock(path):
            token = self._stored(path)  # another process may have refreshed meanwhile
            if force_refresh or token.expires_within(self.clock(), self.client.refresh_margin):
                token = self._refresh(token)
                save_token(path, token)
                log.info("OAuth2 access token for %s refreshed; valid until %s", token.account,
                         token.expires_at.isoformat(timespec="seconds"))
        return token.access_token

    def _stored(self, path: Path) -> Token:
        client = self.client
        token = load_token(path)
        if token is None:
            raise OAuthLoginNeeded(f"no OAuth2 token yet ({path} does not exist); "
                                   f"{_login_hint(client)}")
        if (token.provider, token.client_id) != (client.provider, client.client_id):
            raise OAuthLoginNeeded(
                f"the token in {path} was obtained for provider {token.provider} and client "
                f"{token.client_id}, but the configuration names {client.provider} / "
                f"{client.client_id}; {_login_hint(client)}")
        return token

    def _refresh(self, token: Token) -> Token:
        client = self.client
        if not token.refresh_token:
            raise OAuthLoginNeeded(f"the OAuth2 access token for {token.account} expired and "
                                   f"there is no refresh token; {_login_hint(client)}")
        scope = {"scope": client.scopes} if client.scope_on_refresh else {}
        now = self.clock()
        with _session(client) as session:
            try:
                answer = _call(client.token_url, lambda: session.refresh_token(
                    client.token_url, refresh_token=token.refresh_token, **scope,
                    **_NO_REDIRECTS))
            except _Refused as exc:
                if exc.error in _SIGN_IN_AGAIN:
                    raise OAuthLoginNeeded(
                        f"the OAuth2 refresh token for {token.account} was refused "
                        f"({exc.text}): it expired or was revoked; {_login_hint(client)}"
                    ) from None
                raise OAuthError(f"refreshing the OAuth2 token for {token.account} failed "
                                 f"({exc.text}); it is tried again at the next poll") from None
        return _token_from(client, answer, now, token.account, previous=token)


# Refresh answers that no retry can mend: a person has to sign in again.
_SIGN_IN_AGAIN = ("invalid_grant", "interaction_required", "consent_required",
                  "unauthorized_client", "invalid_client")


def token_source(settings: Settings, which: str) -> TokenSource | None:
    """The token source for the mailbox ('mailbox') or for sending ('smtp') when that
    connection uses oauth2, else None."""
    conn = settings.mailbox if which == "mailbox" else settings.smtp
    if conn.auth != "oauth2" or conn.kind == "maildir":
        return None
    return TokenSource(settings.oauth, conn.user)


def xoauth2_string(user: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial client response (before base64)."""
    return f"user={user}\x01auth=Bearer {access_token}\x01\x01"


# ---- the first sign-in ----------------------------------------------------------------

Echo = Callable[[str], None]


def login(settings: Settings, *, provider: str | None = None, client_id: str | None = None,
          tenant: str | None = None, echo: Echo = print, open_browser: bool = True,
          port: int = 0, sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], datetime] = _utcnow) -> Token:
    """Obtain the first token interactively and store it: the device-code flow (Microsoft)
    or the installed-app flow (Google). Returns the stored token."""
    name = provider or settings.oauth.provider
    if name in PROVIDERS and not (client_id or settings.oauth.client_id):
        echo(PROVIDERS[name].register)  # what to set up before there is a client ID
    client = client_from(settings.oauth, provider=provider, client_id=client_id, tenant=tenant)
    account = settings.mailbox.user or settings.smtp.user
    try:
        return _login(client, account, echo=echo, open_browser=open_browser,
                      port=port, sleep=sleep, clock=clock)
    except OAuthError as exc:
        if "invalid_client" in str(exc) or "unauthorized_client" in str(exc):
            echo(PROVIDERS[client.provider].register)
        raise


def _login(client: Client, account: str, *, echo: Echo,
           open_browser: bool, port: int, sleep: Callable[[float], None],
           clock: Callable[[], datetime]) -> Token:
    flow = client.flow
    if client.provider == "generic":
        flow = "device" if client.device_code_url else "browser"
    if flow == "device":
        if not client.device_code_url:
            raise ConfigError("oauth.device_code_url: the device-code flow needs it")
        token = _device_flow(client, account, echo, sleep, clock)
    else:
        if not client.authorize_url:
            raise ConfigError("oauth.authorize_url: the browser sign-in needs it")
        token = _browser_flow(client, account, echo, open_browser, port, clock)
    if not token.refresh_token:
        echo("warning: the provider gave no refresh token; mailproc will need a new "
             "`auth login` when the access token expires")
    with _file_lock(client.token_file):
        save_token(client.token_file, token)
    return token


def _device_flow(client: Client, account: str, echo: Echo,
                 sleep: Callable[[float], None], clock: Callable[[], datetime]) -> Token:
    """RFC 8628: ask for a user code, show it, poll the token endpoint until approved."""
    with _session(client) as session:
        try:
            data = _call(client.device_code_url, lambda: _device_authorization(session, client))
        except _Refused as exc:
            hint = ""
            if exc.error in ("invalid_client", "unauthorized_client"):
                hint = "; check oauth.client_id and that 'Allow public client flows' is on"
            raise OAuthError(f"the device-code request was refused ({exc.text}){hint}"
                             ) from None
        try:
            device_code = str(data["device_code"])
            user_code = str(data["user_code"])
            uri = str(data.get("verification_uri") or data["verification_url"])
            expires_in = int(data.get("expires_in", 900))
            interval = max(1, int(data.get("interval", 5)))
        except (KeyError, TypeError, ValueError) as exc:
            raise OAuthError(f"the device-code answer lacks {exc}") from None
        who = f" as {account}" if account else ""
        echo(f"To sign in{who}, open {uri} in a browser and enter the code {user_code} "
             f"(valid for {max(1, expires_in // 60)} minutes). Waiting …")
        deadline = time.monotonic() + expires_in
        while True:
            sleep(interval)
            now = clock()
            try:
                answer = _call(client.token_url, lambda: session.fetch_token(
                    client.token_url, grant_type=DEVICE_CODE_GRANT, device_code=device_code,
                    **_NO_REDIRECTS))
            except _Refused as exc:
                if exc.error == "slow_down":
                    interval += 5
                elif exc.error != "authorization_pending":
                    raise OAuthError(f"sign-in not completed ({exc.text})") from None
            else:
                return _token_from(client, answer, now, account)
            if time.monotonic() > deadline:
                raise OAuthError("sign-in not completed before the code expired; run "
                                 "`mailproc auth login` again")


def _device_authorization(session: OAuth2Session, client: Client) -> dict[str, Any]:
    """The device authorization request (RFC 8628 section 3.1): Authlib has no client call
    for it, so it is posted with the session (its timeout, TLS verification, User-Agent)."""
    resp = _json_object(session.post(
        client.device_code_url, data={"client_id": client.client_id, "scope": client.scopes},
        headers={"Accept": "application/json"}, withhold_token=True, **_NO_REDIRECTS))
    data = resp.json()
    if resp.status_code >= 400 or "error" in data:
        raise _Refused(str(data.get("error") or ""), data.get("error_description"),
                       resp.status_code)
    return data


def _redirect_server(port: int) -> Any:
    """A server on 127.0.0.1:`port` that receives the one redirect of the installed-app flow
    (`expected_state` set by the caller; `result` the redirect's query once it came)."""
    from http.server import BaseHTTPRequestHandler, HTTPServer  # only for a browser sign-in

    class RedirectServer(HTTPServer):
        expected_state: str = ""
        result: dict[str, str] | None = None

    class RedirectCatcher(BaseHTTPRequestHandler):
        server: RedirectServer

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            query = parse_qs(urlsplit(self.path).query)
            if query.get("state", [""])[0] != self.server.expected_state:
                self._answer(400, "This sign-in link does not belong to the running "
                                  "`mailproc auth login`.")
                return
            self.server.result = {k: v[0] for k, v in query.items()}
            ok = "code" in query
            self._answer(200 if ok else 400,
                         "mailproc is signed in; you can close this window." if ok else
                         "Sign-in refused: " + query.get("error", ["unknown"])[0])

        def _answer(self, status: int, text: str) -> None:
            body = (f"<!doctype html><meta charset=utf-8><title>mailproc</title>"
                    f"<p>{html.escape(text)}</p>").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # the query holds the authorization code: never log it

    return RedirectServer(("127.0.0.1", port), RedirectCatcher)


def _browser_flow(client: Client, account: str, echo: Echo, open_browser: bool, port: int,
                  clock: Callable[[], datetime], wait_seconds: float | None = None) -> Token:
    """RFC 8252 installed-app flow: authorization code to a loopback redirect, with PKCE."""
    server = _redirect_server(port)
    server.timeout = 1.0
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    from authlib.common.security import generate_token

    verifier = generate_token(64)  # RFC 7636: 43 to 128 unreserved characters
    with _session(client, code_challenge_method="S256") as session:
        try:
            url, server.expected_state = session.create_authorization_url(
                client.authorize_url, code_verifier=verifier, redirect_uri=redirect_uri,
                scope=client.scopes, access_type="offline", prompt="consent",
                login_hint=account or None)
            who = f" as {account}" if account else ""
            echo(f"To sign in{who}, open this address in a browser on this machine:\n{url}\n"
                 f"Waiting for the answer on {redirect_uri} …")
            if open_browser:
                import webbrowser  # loads subprocess and more: only to open a browser

                threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
            wait = BROWSER_WAIT_SECONDS if wait_seconds is None else wait_seconds
            deadline = time.monotonic() + wait
            while server.result is None and time.monotonic() < deadline:
                server.handle_request()
        finally:
            server.server_close()
        result = server.result
        if result is None:
            raise OAuthError(f"no answer from the browser within {wait:.0f} seconds; run "
                             "`mailproc auth login` again")
        if "code" not in result:
            raise OAuthError(f"sign-in refused: {result.get('error', 'unknown error')} "
                             f"{result.get('error_description', '')}".strip())
        now = clock()
        try:
            answer = _call(client.token_url, lambda: session.fetch_token(
                client.token_url, grant_type="authorization_code", code=result["code"],
                redirect_uri=redirect_uri, code_verifier=verifier, **_NO_REDIRECTS))
        except _Refused as exc:
            raise OAuthError(f"the authorization code was refused ({exc.text})") from None
    return _token_from(client, answer, now, account)


# ---- status -----------------------------------------------------------------------------

def status(cfg: OAuthSettings, now: datetime | None = None) -> dict[str, Any]:
    """What `mailproc auth status` shows; never the tokens themselves."""
    now = now or _utcnow()
    path = cfg.token_file
    token = load_token(path)
    if token is None:
        hint = f" --provider {cfg.provider}" if cfg.provider else ""
        raise OAuthLoginNeeded(f"no OAuth2 token ({path} does not exist); sign in with "
                               f"`mailproc auth login{hint}`")
    return {
        "token_file": str(path),
        "mode": f"{stat.S_IMODE(path.stat().st_mode):04o}",
        "provider": token.provider,
        "client_id": token.client_id,
        "account": token.account,
        "scope": token.scope,
        "obtained_at": token.obtained_at.isoformat(timespec="seconds"),
        "expires_at": token.expires_at.isoformat(timespec="seconds"),
        "expired": token.expires_at <= now,
        "seconds_left": max(0, int((token.expires_at - now).total_seconds())),
        "refresh_token": bool(token.refresh_token),
        "matches_config": (token.provider, token.client_id) == (cfg.provider, cfg.client_id),
    }

