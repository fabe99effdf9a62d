"""The TOML file plus MAILPROC_* variables → one immutable Settings object.

Nothing here connects to anything; nothing is read at import time. Secrets are kept out of
every repr so that logging a Settings object never prints a password.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailproc import resources
from mailproc.domain.numbering import NumberPattern
from mailproc.domain.routing import RoutingRules, compile_patterns, rules_from_mapping
from mailproc.errors import ConfigError

DEFAULT_CONFIG = Path("config/mailproc.toml")
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class MailboxSettings:
    kind: str  # 'imap' or 'maildir'
    url: str = field(repr=False)
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = field(default="", repr=False)
    folder: str = "INBOX"
    security: str = "ssl"  # 'ssl', 'starttls' or 'none'
    path: Path | None = None  # maildir root
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    # The folder where the mail server files a copy of each mail it accepted for sending
    # (Gmail, Microsoft 365 and most providers do): checked for a mail left 'sending' by a
    # crash. '' = none configured: such mail is flagged for a person instead.
    sent_folder: str = ""
    mode: str = "move"  # 'move' or 'keep'
    processed_keyword: str = "$MailprocProcessed"
    quarantine_keyword: str = "$MailprocQuarantined"
    ca_file: Path | None = None
    timeout: float = 60.0
    fetch_batch: int = 50
    auth: str = "password"  # 'password' or 'oauth2' (XOAUTH2 with a token from [oauth])
    # Where the URL came from, for messages: "mailbox.url", or "MAILPROC_MAILBOX_URL".
    url_source: str = "mailbox.url"


@dataclass(frozen=True)
class SmtpSettings:
    kind: str  # 'smtp' or 'maildir'
    url: str = field(repr=False)
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = field(default="", repr=False)
    security: str = "none"  # 'ssl', 'starttls' or 'none'
    path: Path | None = None  # maildir the mail is written to instead of sent
    ca_file: Path | None = None
    timeout: float = 60.0
    auth: str = "password"  # 'password' or 'oauth2' (XOAUTH2 with a token from [oauth])
    url_source: str = "smtp.url"  # or MAILPROC_SMTP_URL: named in connection errors


OAUTH_PROVIDERS = ("microsoft", "google", "generic")
AUTH_METHODS = ("password", "oauth2")


@dataclass(frozen=True)
class OAuthSettings:
    """The OAuth2 client mailproc is registered as (`[oauth]`); endpoints left empty are the
    provider's own (see mailproc.oauth.PROVIDERS). The tokens themselves live in
    `token_file`, never in the configuration."""

    provider: str = ""  # 'microsoft', 'google', 'generic', or '' when not configured
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    tenant: str = "organizations"  # Microsoft: the directory (tenant) ID or domain
    scopes: str = ""  # space separated; '' = the provider's default
    token_url: str = ""
    device_code_url: str = ""
    authorize_url: str = ""
    token_file: Path = Path("var/oauth-token.json")
    refresh_margin: float = 300.0  # refresh when the access token expires within this
    timeout: float = 30.0


@dataclass(frozen=True)
class Department:
    key: str
    name: str
    addresses: tuple[str, ...]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Company:
    name: str
    domains: tuple[str, ...]
    address: str = ""
    phone: str = ""
    sender_name: str = ""
    sender_address: str = ""
    signature: str = ""
    # The company's logo (a PNG) printed in every form header; None: the "LOGO" placeholder.
    logo: Path | None = None


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 25 * 1024 * 1024
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 20
    auto_replies_per_sender_per_day: int = 5
    # Floods (issue #12): nearly the same text from one sender within this many hours is a
    # follow-up of the first complaint (0: off); past this many new complaints from one sender
    # in 24 hours, further ones are held in triage with one notice (0: no limit).
    repeat_window_hours: int = 72
    new_complaints_per_sender_per_day: int = 10


@dataclass(frozen=True)
class OutboxSettings:
    max_attempts: int = 10
    backoff_seconds: int = 60
    backoff_max_seconds: int = 3600
    stuck_after_seconds: int = 600


@dataclass(frozen=True)
class RecordsSettings:
    """`[records]`: how long the raw mail and attachments of a finished complaint are kept
    before `mailproc records purge` may remove them (procedure step 11, UU 27/2022)."""

    retention_years: int = 5


@dataclass(frozen=True)
class WebSettings:
    """`[web]`: the web page (`mailproc serve`, mailproc/web). `secret_key` signs the session
    cookie ('' here and in MAILPROC_WEB_SECRET_KEY: one generated into the state folder);
    `secure_cookies` marks the cookie Secure (set it when users reach the page over HTTPS);
    `behind_proxy` trusts one reverse proxy's X-Forwarded-For / -Proto (docs/deploy.md)."""

    listen: str = "127.0.0.1:8025"
    secret_key: str = field(default="", repr=False)
    secure_cookies: bool = False
    behind_proxy: bool = False


@dataclass(frozen=True)
class CalendarSettings:
    """Working days and hours, and the procedure's clock lengths."""

    hours: Mapping[int, tuple[time, time]]  # weekday (Mon=0) -> working hours
    cuti_bersama: bool = True  # count the government's collective leave days as days off
    company_days_off: frozenset[date] = frozenset()
    day_length: timedelta = timedelta(hours=9)
    first_response_days: int = 1
    plan_days: int = 3
    remind_at: time = time(8, 0)  # when the daily reminder run happens
    # Marketing administration's own clocks: choosing the department of a complaint in
    # triage, and the effectiveness check once the actions are reported done.
    triage_days: int = 1
    verify_days: int = 5
    # Whether the automatic acknowledgement is the first response (procedure 4.4), or a
    # person's response must be recorded (`complaints respond`, TANGGAPAN:).
    auto_ack_counts: bool = True


_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _parse_hours(r: _Reader, key: str, value: str) -> tuple[time, time]:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value)
    if not m:
        raise r.fail(key, f"expected hours like \"08:00-17:00\", got {value!r}")
    try:
        start, end = time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4]))
    except ValueError as exc:
        raise r.fail(key, str(exc)) from None
    if end <= start:
        raise r.fail(key, f"the end {end} is not after the start {start}")
    return start, end


def _parse_time(r: _Reader, key: str, default: str) -> time:
    value = r.get(key, str, default)
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise r.fail(key, f"expected a time like \"08:00\", got {value!r}") from None


def _parse_calendar(r: _Reader) -> CalendarSettings:
    default_hours = _parse_hours(r, "calendar.hours", r.get("calendar.hours", str, "08:00-17:00"))
    days = r.get("calendar.workdays", list, ["mon", "tue", "wed", "thu", "fri"])
    hours: dict[int, tuple[time, time]] = {}
    for day in days:
        if not isinstance(day, str) or day.lower()[:3] not in _WEEKDAYS:
            raise r.fail("calendar.workdays", f"unknown day {day!r}; use mon, tue, … sun")
        hours[_WEEKDAYS[day.lower()[:3]]] = default_hours
    for day, value in r.get("calendar.day_hours", dict, {}, opaque=True).items():
        if day.lower()[:3] not in _WEEKDAYS or not isinstance(value, str):
            raise r.fail(f"calendar.day_hours.{day}", "expected e.g. sat = \"08:00-12:00\"")
        hours[_WEEKDAYS[day.lower()[:3]]] = _parse_hours(r, f"calendar.day_hours.{day}", value)
    if not hours:
        raise r.fail("calendar.workdays", "at least one working day is needed")
    days_off = set()
    for item in r.get("calendar.company_days_off", list, []):
        try:
            days_off.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
        except ValueError:
            raise r.fail("calendar.company_days_off",
                         f"not a date: {item!r} (YYYY-MM-DD)") from None
    start, end = default_hours
    length = datetime.combine(date.min, end) - datetime.combine(date.min, start)
    remind = r.get("calendar.remind_at", str, "08:00")
    try:
        remind_at = time.fromisoformat(remind)
    except ValueError:
        raise r.fail("calendar.remind_at",
                     f"expected a time like \"08:00\", got {remind!r}") from None
    return CalendarSettings(
        hours=hours, cuti_bersama=r.get("calendar.cuti_bersama", bool, True),
        company_days_off=frozenset(days_off), day_length=length,
        first_response_days=int(r.positive("sla.first_response_working_days", 1)),
        plan_days=int(r.positive("sla.plan_working_days", 3)),
        remind_at=remind_at,
        triage_days=int(r.positive("sla.triage_working_days", 1)),
        verify_days=int(r.positive("sla.verify_working_days", 5)),
        auto_ack_counts=r.get("sla.auto_ack_counts_as_first_response", bool, True),
    )


@dataclass(frozen=True)
class FormDocument:
    """A controlled form: its template file and the document-control values printed in its
    header. A revised form is a new template file plus new values here, no code."""

    key: str  # 'ptpp' or 'retur'
    template: Path
    number: str
    revision: str
    revision_date: str


@dataclass(frozen=True)
class Settings:
    config_path: Path
    root: Path
    company: Company
    mailbox: MailboxSettings
    smtp: SmtpSettings
    database_url: str = field(repr=False)
    archive_dir: Path
    templates_dir: Path
    state_dir: Path
    timezone: ZoneInfo
    marketing_admin: tuple[str, ...]
    sales_marketing: tuple[str, ...]
    operations_manager: tuple[str, ...]
    departments: Mapping[str, Department]
    numbering: NumberPattern
    routing: RoutingRules
    extract_patterns: Mapping[str, tuple[re.Pattern[str], ...]]
    limits: Limits
    outbox: OutboxSettings
    forms: Mapping[str, FormDocument] = field(default_factory=dict)
    calendar: CalendarSettings = field(default_factory=lambda: CalendarSettings(
        hours={d: (time(8), time(17)) for d in range(5)}))
    issuer: str = "Administrasi Marketing"
    max_photos: int = 6
    auto_issue: bool = True  # send the PTPP as soon as routing chose a department
    # A not-effective verification's new PTPP takes its own number from the sequence (the
    # form's "No. PTPP baru"); false: the first number with the cycle as suffix (…-2).
    new_number_per_cycle: bool = True
    auto_return_form: bool = True  # send the return-claim form on return words
    # PDF copies beside the Word files customers and sales & marketing read, when LibreOffice
    # is installed (`libreoffice`: its path; '' looks on the PATH).
    pdf_copies: bool = True
    libreoffice: str = ""
    digest_at: time = time(8, 0)  # the status digest, each working day
    poll_minutes: float = 5.0
    # IMAP IDLE in `mailproc run`: mail handled as it arrives; IDLE re-issued this often.
    idle: bool = True
    idle_minutes: float = 25.0
    log_level: str = "INFO"
    unknown_keys: tuple[str, ...] = ()  # only with load_settings(strict=False)
    from_env: Mapping[str, str] = field(default_factory=dict)  # key → MAILPROC_* that set it
    log_format: str = "text"  # or "json": JSON lines for log collectors (mailproc/logsetup.py)
    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    records: RecordsSettings = field(default_factory=RecordsSettings)
    web: WebSettings = field(default_factory=WebSettings)

    def source(self, key: str) -> str:
        """Where a setting came from, for messages: its environment variable, or the file
        and the dotted key."""
        var = self.from_env.get(key)
        return f"{var} (environment variable)" if var else f"{self.config_path}: {key}"

    def is_internal(self, address: str) -> bool:
        """True for an address in one of the company's own mail domains."""
        domain = address.rpartition("@")[2].lower()
        return bool(domain) and any(
            domain == d or domain.endswith("." + d) for d in self.company.domains
        )


class _Reader:
    """Typed access to the TOML tree; every error names the dotted key and the file, or the
    environment variable the value came from.

    Every key the settings know is asked for through `get` (present or not), so what was
    asked for is the schema: a key in the file that nobody asked for is a typo
    (`unknown_keys`). `opaque` tables (routing rules, extract patterns) check their own keys.
    """

    def __init__(self, data: Mapping[str, Any], path: Path) -> None:
        self.data = data
        self.path = path
        self.asked: set[str] = set()
        self.opaque: set[str] = set()
        self.from_env: dict[str, str] = {}  # dotted key → the MAILPROC_* variable that set it

    def fail(self, key: str, problem: str) -> ConfigError:
        var = key if key.startswith("MAILPROC_") else self.from_env.get(key)
        if var:
            return ConfigError(f"{var} (environment variable): {problem}")
        return ConfigError(f"{self.path}: {key}: {problem}")

    def setting(self, env: Mapping[str, str], var: str, key: str, default: Any = ...) -> str:
        """A string setting that an environment variable overrides; errors then name it."""
        value = self.get(key, str, default if var not in env or not env[var] else "")
        if env.get(var):
            self.from_env[key] = var
            return env[var]
        return value

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...,
            *, opaque: bool = False) -> Any:
        self.asked.add(key)
        if opaque:
            self.opaque.add(key)
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                if default is ...:
                    raise self.fail(key, "missing; see config/mailproc.example.toml")
                return default
            node = node[part]
        if isinstance(node, bool) and kind in (int, float, (int, float)):
            raise self.fail(key, f"expected a number, got {node!r}")
        if not isinstance(node, kind):
            kinds = (kind,) if isinstance(kind, type) else kind
            want = " or ".join(k.__name__ for k in kinds)
            raise self.fail(key, f"expected {want}, got {type(node).__name__} {node!r}")
        return node

    def addresses(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, (list, str), default)
        items = [value] if isinstance(value, str) else value
        out = []
        for item in items:
            if not isinstance(item, str) or not _EMAIL.fullmatch(item.strip()):
                raise self.fail(key, f"not an email address: {item!r}")
            out.append(item.strip().lower())
        return tuple(out)

    def non_negative(self, key: str, default: Any) -> Any:
        value = self.get(key, (int, float), default)
        if value < 0:
            raise self.fail(key, f"must be 0 or more, got {value}")
        return value

    def positive(self, key: str, default: Any) -> Any:
        value = self.get(key, (int, float), default)
        if value <= 0:
            raise self.fail(key, f"must be greater than 0, got {value}")
        return value

    def unknown_keys(self) -> list[str]:
        """One sentence per key or table in the file that no setting asked for, with the
        closest known name at the same level."""
        asked = self.asked
        prefixes = {k.rsplit(".", i)[0] for k in asked for i in range(1, k.count(".") + 1)}
        known = asked | prefixes
        out: list[str] = []

        def walk(node: Mapping[str, Any], parent: str) -> None:
            for name, value in node.items():
                key = f"{parent}.{name}" if parent else name
                if key in self.opaque:
                    continue
                if key not in known:
                    siblings = sorted({k[len(parent) + 1:].split(".")[0] if parent
                                       else k.split(".")[0]
                                       for k in known if not parent or k.startswith(parent + ".")}
                                      - {""})
                    what = "section" if isinstance(value, Mapping) else "key"
                    import difflib  # only for a key that is wrong

                    hint = difflib.get_close_matches(name, siblings, n=1, cutoff=0.6)
                    out.append(f"unknown {what} `{key}`" + (
                        f"; did you mean `{parent + '.' if parent else ''}{hint[0]}`?"
                        if hint else f"; known here: {', '.join(siblings) or '(none)'}"))
                elif isinstance(value, Mapping):
                    walk(value, key)

        walk(self.data, "")
        return out


_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


def _resolve(root: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (root / p).resolve()


def _parse_mailbox(url: str, r: _Reader, root: Path, env: Mapping[str, str]) -> MailboxSettings:
    key = "mailbox.url"
    common: dict[str, Any] = {
        "processed_folder": r.get("mailbox.processed_folder", str, "Processed"),
        "quarantine_folder": r.get("mailbox.quarantine_folder", str, "Quarantine"),
        "sent_folder": r.get("mailbox.sent_folder", str, ""),
        "mode": r.get("mailbox.mode", str, "move"),
        "processed_keyword": r.get("mailbox.processed_keyword", str, "$MailprocProcessed"),
        "quarantine_keyword": r.get("mailbox.quarantine_keyword", str, "$MailprocQuarantined"),
        "timeout": float(r.positive("mailbox.timeout_seconds", 60)),
        "fetch_batch": int(r.positive("mailbox.fetch_batch", 50)),
        "auth": _auth_method(r, "mailbox.auth"),
        "url_source": r.from_env.get("mailbox.url", "mailbox.url"),
    }
    if common["mode"] not in ("move", "keep"):
        raise r.fail("mailbox.mode", f"must be 'move' or 'keep', got {common['mode']!r}")
    ca = r.get("mailbox.ca_file", str, "")
    common["ca_file"] = _resolve(root, ca) if ca else None
    if url.startswith("maildir:"):
        path = url[len("maildir:"):]
        if not path:
            raise r.fail(key, "maildir: needs a path, e.g. maildir:var/inbox")
        return MailboxSettings(kind="maildir", url=url, path=_resolve(root, path), **common)
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps"):
        raise r.fail(key, f"unsupported scheme {parts.scheme!r}; use imaps://, imap:// or maildir:")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[0].lower() in _TRUE
    security = "ssl" if parts.scheme == "imaps" else ("starttls" if starttls else "none")
    if not parts.hostname:
        raise r.fail(key, "no host in the URL")
    try:
        port = parts.port or (993 if security == "ssl" else 143)
    except ValueError as exc:
        raise r.fail(key, f"bad port: {exc}") from None
    password = env.get("MAILPROC_MAILBOX_PASSWORD") or unquote(parts.password or "")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    if common["auth"] == "oauth2" and not parts.username:
        raise r.fail(key, "mailbox.auth is oauth2: put the mailbox's address in the URL, "
                          "e.g. imaps://keluhan%40contoh.co.id@outlook.office365.com/INBOX")
    if common["auth"] == "oauth2" and security == "none" and not _loopback(parts.hostname):
        raise r.fail(key, "mailbox.auth is oauth2: the token must not travel unencrypted; "
                          "use imaps:// or ?starttls=1")
    return MailboxSettings(
        kind="imap", url=url, host=parts.hostname, port=port, user=unquote(parts.username or ""),
        password=password, folder=folder, security=security, **common,
    )


def _parse_smtp(url: str, r: _Reader, root: Path, env: Mapping[str, str]) -> SmtpSettings:
    key = "smtp.url"
    auth = _auth_method(r, "smtp.auth")
    ca = r.get("smtp.ca_file", str, "")
    ca_file = _resolve(root, ca) if ca else None
    timeout = float(r.positive("smtp.timeout_seconds", 60))
    if url.startswith("maildir:"):
        path = url[len("maildir:"):]
        if not path:
            raise r.fail(key, "maildir: needs a path, e.g. maildir:var/sent")
        return SmtpSettings(kind="maildir", url=url, path=_resolve(root, path), timeout=timeout,
                            url_source=r.from_env.get(key, key))
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise r.fail(key, f"unsupported scheme {parts.scheme!r}; use smtps://, smtp:// or maildir:")
    if not parts.hostname:
        raise r.fail(key, "no host in the URL")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[0].lower() in _TRUE
    security = "ssl" if parts.scheme == "smtps" else ("starttls" if starttls else "none")
    try:
        port = parts.port or (465 if security == "ssl" else 587 if starttls else 25)
    except ValueError as exc:
        raise r.fail(key, f"bad port: {exc}") from None
    password = env.get("MAILPROC_SMTP_PASSWORD") or unquote(parts.password or "")
    if auth == "oauth2" and not parts.username:
        raise r.fail(key, "smtp.auth is oauth2: put the sending address in the URL, "
                          "e.g. smtp://keluhan%40contoh.co.id@smtp.office365.com:587?starttls=1")
    if auth == "oauth2" and security == "none" and not _loopback(parts.hostname):
        raise r.fail(key, "smtp.auth is oauth2: the token must not travel unencrypted; "
                          "use smtps:// or ?starttls=1")
    return SmtpSettings(
        kind="smtp", url=url, host=parts.hostname, port=port,
        user=unquote(parts.username or ""), password=password, security=security,
        ca_file=ca_file, timeout=timeout, auth=auth, url_source=r.from_env.get(key, key),
    )


def _retention_years(r: _Reader) -> int:
    value = r.get("records.retention_years", int, RecordsSettings.retention_years)
    if value < 1:
        raise r.fail("records.retention_years", f"must be 1 or more (years), got {value}")
    return value


def _auth_method(r: _Reader, key: str) -> str:
    value = r.get(key, str, "password")
    if value not in AUTH_METHODS:
        raise r.fail(key, f"must be \"password\" or \"oauth2\", got {value!r}")
    return value


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


_LOOPBACK_HTTP = re.compile(r"http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)")


def secure_endpoint(url: str) -> bool:
    """An OAuth2 endpoint mailproc may talk to: https, or plain http to loopback (tests)."""
    return url.startswith("https://") or bool(_LOOPBACK_HTTP.match(url))


def _margin(r: _Reader) -> float:
    value = float(r.get("oauth.refresh_margin_seconds", (int, float), 300))
    if value < 0:
        raise r.fail("oauth.refresh_margin_seconds", f"must be 0 or more, got {value:g}")
    return value


def _parse_oauth(r: _Reader, root: Path, env: Mapping[str, str]) -> OAuthSettings:
    """`[oauth]`: the registered client. The secret (Google's installed apps have one) comes
    from MAILPROC_OAUTH_CLIENT_SECRET, else the file; endpoints must be https (plain http
    only on loopback, for tests)."""
    provider = r.get("oauth.provider", str, "")
    if provider and provider not in OAUTH_PROVIDERS:
        raise r.fail("oauth.provider", f"must be one of {', '.join(OAUTH_PROVIDERS)}, "
                                       f"got {provider!r}")
    urls = {}
    for name in ("token_url", "device_code_url", "authorize_url"):
        value = r.get(f"oauth.{name}", str, "").strip()
        if value and not secure_endpoint(value):
            raise r.fail(f"oauth.{name}", f"must be an https:// URL, got {value!r}")
        urls[name] = value
    if provider == "generic" and not urls["token_url"]:
        raise r.fail("oauth.token_url", "provider \"generic\" needs the token endpoint")
    state_dir = _resolve(root, r.get("paths.state", str, "var"))
    token_file = r.get("oauth.token_file", str, "")
    secret = r.get("oauth.client_secret", str, "")  # read even when the environment wins
    return OAuthSettings(
        provider=provider,
        client_id=r.get("oauth.client_id", str, "").strip(),
        client_secret=env.get("MAILPROC_OAUTH_CLIENT_SECRET") or secret,
        tenant=r.get("oauth.tenant", str, "organizations").strip() or "organizations",
        scopes=" ".join(r.get("oauth.scopes", str, "").split()),
        token_file=_resolve(root, token_file) if token_file else state_dir / "oauth-token.json",
        refresh_margin=_margin(r),
        timeout=float(r.positive("oauth.timeout_seconds", 30)),
        **urls,
    )


def _packaged_templates(r: _Reader) -> Path:
    try:
        return resources.templates_dir()
    except FileNotFoundError as exc:
        raise r.fail("paths.templates", str(exc)) from None


def _parse_database(url: str, r: _Reader, root: Path) -> str:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path in ("", ":memory:"):
            return "sqlite:///:memory:"
        return "sqlite:///" + str(_resolve(root, path))
    if url.startswith(("postgresql://", "postgres://")):
        return url
    raise r.fail("database.url", "use sqlite:///PATH or postgresql://user@host/dbname")


def _parse_web(r: _Reader, env: Mapping[str, str]) -> WebSettings:
    listen = r.get("web.listen", str, WebSettings.listen).strip()
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise r.fail("web.listen", f"use HOST:PORT, e.g. \"127.0.0.1:8025\", got {listen!r}")
    return WebSettings(
        listen=listen,
        secret_key=r.setting(env, "MAILPROC_WEB_SECRET_KEY", "web.secret_key", ""),
        secure_cookies=r.get("web.secure_cookies", bool, False),
        behind_proxy=r.get("web.behind_proxy", bool, False))


def _parse_log_format(r: _Reader, env: Mapping[str, str]) -> str:
    value = r.get("logging.format", str, "text").strip().lower()
    if value not in ("text", "json"):
        raise r.fail("logging.format", f"must be 'text' or 'json', got {value!r}")
    override = env.get("MAILPROC_LOG_FORMAT", "").strip().lower()
    if override and override not in ("text", "json"):
        raise ConfigError(f"MAILPROC_LOG_FORMAT: must be 'text' or 'json', got {override!r}")
    return override or value


def starter_config(example: str, data_dir: Path | None = None) -> str:
    """The text of a new configuration file made from the example: its relative paths resolve
    against the new file's own folder, or against `data_dir` (an absolute path)."""
    line = re.compile(r'^root = "\.\."$', re.M)
    if not line.search(example):
        raise ConfigError("the packaged example configuration has no `root = \"..\"` line; "
                          "reinstall mailproc")
    root = str(data_dir) if data_dir else "."
    header = ("# Written by `mailproc init`. Relative paths below resolve against paths.root.\n"
              "# Check it with `mailproc doctor`.\n\n")
    return header + line.sub(lambda _m: f"root = {_toml_string(root)}", example, count=1)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_path_from(cli_value: str | None, env: Mapping[str, str]) -> Path:
    return Path(cli_value or env.get("MAILPROC_CONFIG") or DEFAULT_CONFIG)


def load_settings(path: Path, env: Mapping[str, str] | None = None, *,
                  strict: bool = True) -> Settings:
    """Read the TOML file at `path`, apply MAILPROC_* overrides, validate everything.

    Keys in the file that no setting reads are an error (a typo would otherwise be ignored);
    with `strict=False` (`mailproc doctor`) they are listed in `Settings.unknown_keys`."""
    env = os.environ if env is None else env
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: configuration file not found; run `mailproc init --config {path}` to "
            "write a starter configuration there (or `mailproc demo`), or pass --config PATH / "
            "MAILPROC_CONFIG"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; --config names the .toml file") from None
    except PermissionError:
        raise ConfigError(f"{path}: not readable by this user; check its permissions "
                          "(the file holds settings, secrets belong in the environment)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    r = _Reader(data, path)
    root = _resolve(path.resolve().parent, r.get("paths.root", str, "."))

    company = Company(
        name=r.get("company.name", str),
        domains=tuple(d.lower() for d in r.get("company.domains", list)),
        address=r.get("company.address", str, ""),
        phone=r.get("company.phone", str, ""),
        sender_name=r.get("company.sender_name", str, ""),
        sender_address=r.addresses("company.sender_address")[0],
        signature=r.get("company.signature", str, ""),
        logo=_resolve(root, logo) if (logo := r.get("company.logo", str, "")) else None,
    )
    if not company.domains or not all(isinstance(d, str) and d for d in company.domains):
        raise r.fail("company.domains", "list the company's mail domains, e.g. ['contoh.co.id']")

    mailbox_url = r.setting(env, "MAILPROC_MAILBOX_URL", "mailbox.url")
    smtp_url = r.setting(env, "MAILPROC_SMTP_URL", "smtp.url")
    db_url = r.setting(env, "MAILPROC_DATABASE_URL", "database.url", "sqlite:///var/mailproc.db")

    departments: dict[str, Department] = {}
    for dkey, dval in r.get("departments", dict).items():
        if not isinstance(dval, Mapping):
            raise r.fail(f"departments.{dkey}", "expected a table with name and addresses")
        departments[dkey] = Department(
            key=dkey,
            name=r.get(f"departments.{dkey}.name", str),
            addresses=r.addresses(f"departments.{dkey}.addresses"),
            aliases=tuple(a.lower() for a in r.get(f"departments.{dkey}.aliases", list, [])),
        )

    try:
        routing = rules_from_mapping(r.get("routing", dict, opaque=True))
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    for rule in routing.categories:
        if rule.department and rule.department not in departments:
            raise r.fail(
                "routing.categories", f"category {rule.name!r} names unknown department "
                f"{rule.department!r}; known: {', '.join(sorted(departments))}"
            )
    try:
        extract = compile_patterns(r.get("extract", dict, {}, opaque=True))
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        numbering = NumberPattern(r.get("numbering.pattern", str, NumberPattern.DEFAULT))
    except ValueError as exc:
        raise r.fail("numbering.pattern", str(exc)) from None
    tz_name = r.get("company.timezone", str, "Asia/Jakarta")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("company.timezone", f"unknown time zone {tz_name!r}") from None

    limits = Limits(
        max_message_bytes=int(r.positive("limits.max_message_bytes", Limits.max_message_bytes)),
        max_attachment_bytes=int(
            r.positive("limits.max_attachment_bytes", Limits.max_attachment_bytes)
        ),
        max_attachments=int(r.positive("limits.max_attachments", Limits.max_attachments)),
        auto_replies_per_sender_per_day=int(
            r.positive("limits.auto_replies_per_sender_per_day",
                       Limits.auto_replies_per_sender_per_day)
        ),
        repeat_window_hours=int(r.non_negative("limits.repeat_window_hours",
                                               Limits.repeat_window_hours)),
        new_complaints_per_sender_per_day=int(
            r.non_negative("limits.new_complaints_per_sender_per_day",
                           Limits.new_complaints_per_sender_per_day)),
    )
    outbox = OutboxSettings(
        max_attempts=int(r.positive("outbox.max_attempts", OutboxSettings.max_attempts)),
        backoff_seconds=int(r.positive("outbox.backoff_seconds", OutboxSettings.backoff_seconds)),
        backoff_max_seconds=int(
            r.positive("outbox.backoff_max_seconds", OutboxSettings.backoff_max_seconds)
        ),
        stuck_after_seconds=int(
            r.positive("outbox.stuck_after_seconds", OutboxSettings.stuck_after_seconds)
        ),
    )
    templates = r.get("paths.templates", str, "")
    templates_dir = _resolve(root, templates) if templates else _packaged_templates(r)
    if not templates_dir.is_dir():
        raise r.fail("paths.templates", f"folder {templates_dir} does not exist; name the folder "
                     "`mailproc templates export DIR` wrote, or remove the key to use the "
                     "templates mailproc ships")
    forms: dict[str, FormDocument] = {}
    for key, number, template in (("ptpp", "FM-MR-15", "ptpp.docx"),
                                  ("retur", "BKI.FM.MKT.06", "retur.docx"),
                                  ("closure", "-", "closure.docx"),
                                  ("recap", "-", "recap.docx")):
        forms[key] = FormDocument(
            key=key,
            template=templates_dir / r.get(f"documents.{key}.template", str, template),
            number=r.get(f"documents.{key}.number", str, number),
            revision=r.get(f"documents.{key}.revision", str, "00"),
            revision_date=r.get(f"documents.{key}.revision_date", str, ""),
        )
    settings = Settings(
        config_path=path,
        root=root,
        company=company,
        mailbox=_parse_mailbox(mailbox_url, r, root, env),
        smtp=_parse_smtp(smtp_url, r, root, env),
        database_url=_parse_database(db_url, r, root),
        archive_dir=_resolve(root, r.get("paths.archive", str, "archive")),
        templates_dir=templates_dir,
        state_dir=_resolve(root, r.get("paths.state", str, "var")),
        timezone=tz,
        marketing_admin=r.addresses("people.marketing_admin"),
        sales_marketing=r.addresses("people.sales_marketing"),
        operations_manager=r.addresses("people.operations_manager"),
        departments=departments,
        numbering=numbering,
        routing=routing,
        extract_patterns=extract,
        limits=limits,
        outbox=outbox,
        forms=forms,
        calendar=_parse_calendar(r),
        issuer=r.get("documents.issuer", str, "Administrasi Marketing"),
        auto_issue=r.get("documents.issue_on_registration", bool, True),
        new_number_per_cycle=r.get("numbering.new_number_per_cycle", bool, True),
        auto_return_form=r.get("documents.return_form_on_registration", bool, True),
        pdf_copies=r.get("documents.pdf_copies", bool, True),
        libreoffice=r.get("documents.libreoffice", str, ""),
        digest_at=_parse_time(r, "reports.digest_at", "08:00"),
        max_photos=int(r.positive("documents.max_photos", 6)),
        poll_minutes=float(r.positive("schedule.poll_minutes", 5)),
        idle=r.get("schedule.idle", bool, True),
        idle_minutes=float(r.positive("schedule.idle_minutes", 25)),
        log_level=r.get("logging.level", str, "INFO").upper(),
        oauth=_parse_oauth(r, root, env),
        records=RecordsSettings(retention_years=_retention_years(r)),
        web=_parse_web(r, env),
        log_format=_parse_log_format(r, env),
    )
    for key, conn in (("mailbox.auth", settings.mailbox), ("smtp.auth", settings.smtp)):
        if conn.auth == "oauth2" and conn.kind != "maildir":
            if not settings.oauth.provider:
                raise r.fail("oauth.provider", f"{key} is oauth2: set provider = \"microsoft\", "
                                               "\"google\" or \"generic\" in [oauth]")
            if not settings.oauth.client_id:
                raise r.fail("oauth.client_id", f"{key} is oauth2: set the application (client) "
                                                "ID registered with the provider; see README")
    unknown = r.unknown_keys()
    if unknown and strict:
        raise ConfigError(f"{path}: " + "; ".join(unknown))
    return replace(settings, unknown_keys=tuple(unknown), from_env=dict(r.from_env))


def find_unknown_keys(path: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """The keys and sections of the file at `path` that no setting reads, each with the
    closest known name."""
    return list(load_settings(path, env, strict=False).unknown_keys)
