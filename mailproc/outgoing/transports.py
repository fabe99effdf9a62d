"""The ways outgoing mail leaves: SMTP (one connection per flush, TLS verified, password or
XOAUTH2 login) or a local Maildir (the embedded default), behind the `Transport` protocol; and
`probe`, the check of that way for `mailproc doctor`.

A transport gets a built message and its recipients and says, by raising, whether this one mail
was refused (`MailRefused`) or the server is unreachable (`SendError`). It must not touch the
outbox's database rows: claiming, marking and backoff are outbox.py's.
"""

from __future__ import annotations

import contextlib
import email.errors
import logging
import mailbox as stdlib_mailbox
import os
import re
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from mailproc import oauth
from mailproc.config import Settings, SmtpSettings
from mailproc.errors import OAuthError, SendError
from mailproc.outgoing.message import serialize
from mailproc.tls import client_context

log = logging.getLogger(__name__)


class MailRefused(SendError):
    """The server refused this one mail (a recipient, SMTPUTF8 missing …), temporarily or for
    good; the connection and the other mails of the batch are fine."""


class Transport(Protocol):
    def send(self, msg: Message, recipients: list[str], *, utf8: bool = False) -> None: ...
    def close(self) -> None: ...


class MaildirTransport:
    """Writes outgoing mail into a local Maildir instead of sending it (the embedded default).
    A local file takes any address: mail that needs SMTPUTF8 is written with UTF-8 headers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.box: stdlib_mailbox.Maildir | None = None
        with contextlib.suppress(SendError):
            self._open()  # an unwritable folder is reported by send(), mail by mail

    def _open(self) -> stdlib_mailbox.Maildir:
        if self.box is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.box = stdlib_mailbox.Maildir(str(self.path), create=True)
            except OSError as exc:
                raise SendError(f"cannot open the Maildir {self.path} for outgoing mail: "
                                f"{exc}; check smtp.url and the folder's permissions") from None
        return self.box

    def send(self, msg: Message, recipients: list[str], *, utf8: bool = False) -> None:
        box = self._open()
        if "X-Envelope-To" not in msg:
            msg["X-Envelope-To"] = ", ".join(recipients)
        try:
            # Unfolded headers, as mailbox.Maildir writes a message object.
            box.add(serialize(msg, utf8=utf8, linesep="\n", fold=False))
        except OSError as exc:
            raise SendError(f"cannot write to the Maildir {self.path}: {exc}") from None

    def close(self) -> None:
        if self.box is not None:
            self.box.close()


# A bare address as the outbox stores it (no display name, comment, quoting or brackets).
_BARE = re.compile(r'[^\s<>()\[\],;:\\"@]+@[^\s<>()\[\],;:\\"@]+')


def _quote(address: str) -> str:
    """smtplib.quoteaddr's answer, without its full address parse (~0.1 ms an address)
    for the bare addresses the outbox sends to; anything else goes through quoteaddr."""
    if _BARE.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


class _Envelope:
    """MAIL FROM and RCPT TO as smtplib writes them, with the cheaper quoting (_quote)."""

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        conn: smtplib.SMTP = self  # type: ignore[assignment]
        optionlist = ""
        if options and conn.does_esmtp:
            if any(x.lower() == "smtputf8" for x in options):
                if not conn.has_extn("smtputf8"):
                    raise smtplib.SMTPNotSupportedError(
                        "SMTPUTF8 not supported by server")
                conn.command_encoding = "utf-8"
            optionlist = " " + " ".join(options)
        conn.putcmd("mail", f"FROM:{_quote(sender)}{optionlist}")
        return conn.getreply()

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        conn: smtplib.SMTP = self  # type: ignore[assignment]
        optionlist = " " + " ".join(options) if options and conn.does_esmtp else ""
        conn.putcmd("rcpt", f"TO:{_quote(recip)}{optionlist}")
        return conn.getreply()


class _SMTP(_Envelope, smtplib.SMTP):
    pass


class _SMTP_SSL(_Envelope, smtplib.SMTP_SSL):  # noqa: N801 - smtplib's name
    pass


class SmtpTransport:
    """One SMTP connection for a flush; opened lazily, reused for every mail of the batch."""

    def __init__(self, cfg: SmtpSettings, tokens: oauth.TokenSource | None = None) -> None:
        self.cfg = cfg
        self.tokens = tokens  # for smtp.auth = "oauth2"
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.cfg
        try:
            if cfg.security == "ssl":
                conn: smtplib.SMTP = _SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout, context=client_context(cfg.ca_file))
            else:
                conn = _SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
                if cfg.security == "starttls":
                    conn.starttls(context=client_context(cfg.ca_file))
            if cfg.auth == "oauth2":
                self._auth_xoauth2(conn)
            elif cfg.user:
                conn.login(cfg.user, cfg.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"SMTP login to {cfg.host}:{cfg.port} as {cfg.user} refused ({exc.smtp_code}); "
                f"check MAILPROC_SMTP_PASSWORD and the user in {cfg.url_source}",
                permanent=False) from None
        except ssl.SSLCertVerificationError as exc:
            raise SendError(
                f"TLS certificate of {cfg.host}:{cfg.port} not trusted ({exc.verify_message}); "
                "set smtp.ca_file to the server's CA") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"cannot reach SMTP server {cfg.host}:{cfg.port}: {exc}; is it "
                            f"running, and are host and port in {cfg.url_source} right?"
                            ) from None
        return conn

    def _auth_xoauth2(self, conn: smtplib.SMTP) -> None:
        """AUTH XOAUTH2 with the stored OAuth2 token; a refusal of a token that looked valid
        gets one more try with a refreshed one. When no token can be had (the refresh token
        expired or was revoked) the mail is deferred, not failed: it stays queued until a
        person signs in again with `mailproc auth login`."""
        cfg = self.cfg
        where = f"{cfg.host}:{cfg.port}"
        try:
            if self.tokens is None:
                raise SendError("smtp.auth is oauth2 but no OAuth2 token source was given")
            conn.ehlo_or_helo_if_needed()
            offered = conn.esmtp_features.get("auth", "").upper().split()
            if "XOAUTH2" not in offered:
                raise SendError(f"SMTP server {where} does not offer AUTH XOAUTH2 (it offers: "
                                f"{' '.join(offered) or 'no AUTH'}); check {cfg.url_source} "
                                "(TLS first)")
            try:
                conn.auth("XOAUTH2", _xoauth2_responder(cfg.user, self.tokens.access_token()))
                return
            except smtplib.SMTPAuthenticationError as exc:
                log.info("SMTP XOAUTH2 login to %s refused (%s); refreshing the token once",
                         where, exc.smtp_code)
            try:
                conn.auth("XOAUTH2", _xoauth2_responder(
                    cfg.user, self.tokens.access_token(force_refresh=True)))
            except smtplib.SMTPAuthenticationError as exc:
                raise SendError(
                    f"SMTP XOAUTH2 login to {where} as {cfg.user} refused with a fresh token "
                    f"({exc.smtp_code}); check that {cfg.user} is the account that signed in "
                    "with `mailproc auth login` and that SMTP AUTH is enabled for it") from None
        except (SendError, OAuthError) as exc:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                conn.close()
            raise SendError(str(exc), permanent=False) from None

    def send(self, msg: Message, recipients: list[str], *, utf8: bool = False) -> None:
        try:
            # Serialized before the conversation: a header that cannot be encoded is this
            # mail's problem, not the connection's.
            data = serialize(msg, utf8=utf8)
        except (ValueError, TypeError, LookupError, email.errors.MessageError) as exc:
            # UnicodeEncodeError (a ValueError) for text a header cannot carry, the email
            # package's own errors and the ValueError / IndexError its header parser raises.
            raise MailRefused(f"cannot encode the mail: {type(exc).__name__}: {exc}",
                              permanent=True) from None
        sender = parseaddr(str(msg["From"]))[1]
        if self.conn is None:
            self.conn = self._connect()
        conn = self.conn
        try:
            if utf8:
                refused = self._send_utf8(conn, sender, recipients, data)
            else:
                refused = conn.sendmail(sender, recipients, data)
        except SendError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            if 421 in codes:
                # 421 to RCPT is the server closing the session, not a refusal of this
                # recipient: smtplib hung up, so the rest of the batch waits as well.
                self.close()
                raise SendError(f"the SMTP server {self._where} is closing the connection: "
                                f"{_refusals(exc.recipients)}") from None
            raise MailRefused(f"every recipient refused: {_refusals(exc.recipients)}",
                              permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            reply = exc.smtp_error
            text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
            raise SendError(f"the SMTP server {self._where} answered {exc.smtp_code} "
                            f"{' '.join(text.split())}",
                            permanent=exc.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise SendError(f"sending failed: {exc}") from None
        except (ValueError, TypeError) as exc:
            # smtplib encodes commands as ASCII unless SMTPUTF8 is used: an address it cannot
            # write is UnicodeEncodeError, half-way through the conversation, so start afresh.
            self.close()
            raise MailRefused(f"sending failed unexpectedly: {type(exc).__name__}: {exc}",
                              permanent=True) from None
        if refused:
            log.warning("some recipients refused for %s: %s", msg["Message-ID"], refused)

    def _send_utf8(self, conn: smtplib.SMTP, sender: str, recipients: list[str],
                   data: bytes) -> dict[str, tuple[int, bytes]]:
        conn.ehlo_or_helo_if_needed()
        if not conn.has_extn("smtputf8"):
            wide = ", ".join(a for a in recipients if not a.isascii())
            raise MailRefused(
                f"the SMTP server {self.cfg.host}:{self.cfg.port} does not offer SMTPUTF8, "
                f"which the address {wide} needs; reach the recipient another way, or send "
                "through a server that supports SMTPUTF8", permanent=True)
        options = ["SMTPUTF8"] + (["BODY=8BITMIME"] if conn.has_extn("8bitmime") else [])
        return conn.sendmail(sender, recipients, data, mail_options=options)

    @property
    def _where(self) -> str:
        return f"{self.cfg.host}:{self.cfg.port}"

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.conn.quit()
            self.conn = None


def _refusals(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr}: {code} {msg.decode('utf-8', 'replace')}"
                     for addr, (code, msg) in recipients.items())


def make_transport(settings: Settings) -> Transport:
    if settings.smtp.kind == "maildir":
        assert settings.smtp.path is not None
        return MaildirTransport(settings.smtp.path)
    return SmtpTransport(settings.smtp, oauth.token_source(settings, "smtp"))


def _xoauth2_responder(user: str, access_token: str) -> Callable[..., str]:
    """smtplib's authobject for XOAUTH2: the initial response, then an empty answer to the
    server's error challenge (it then says 535)."""
    calls = 0

    def respond(challenge: bytes | None = None) -> str:
        nonlocal calls
        calls += 1
        return oauth.xoauth2_string(user, access_token) if calls == 1 else ""
    return respond


# ---- probe (mailproc doctor) ---------------------------------------------------------------

@dataclass(frozen=True)
class SmtpProbe:
    """What `probe` found. Nothing was sent: the conversation ends after EHLO and login."""

    where: str  # host:port, or maildir:PATH
    security: str  # 'ssl', 'starttls', 'none' or 'maildir'
    logged_in: bool = False
    features: dict[str, str] = field(default_factory=dict)  # EHLO keywords (lower case)

    @property
    def smtputf8(self) -> bool:
        return self.security == "maildir" or "smtputf8" in self.features

    @property
    def size_limit(self) -> int | None:
        """The server's SIZE in bytes; None when it announces none (or 0: no limit)."""
        value = self.features.get("size", "").strip()
        return int(value) if value.isdigit() and int(value) > 0 else None


def probe(settings: Settings) -> SmtpProbe:
    """Check the way mail goes out without sending any: connect, TLS (certificate verified)
    and login through the transport's own code path, then EHLO's extensions; QUIT. For the
    Maildir transport, that the folder is there and writable. Raises SendError whose message
    says what to fix."""
    cfg = settings.smtp
    if cfg.kind == "maildir":
        assert cfg.path is not None
        if not all((cfg.path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            raise SendError(f"{cfg.path} is not a Maildir; run `mailproc init` or check "
                            f"{cfg.url_source}")
        if not os.access(cfg.path / "tmp", os.W_OK) or not os.access(cfg.path / "new", os.W_OK):
            raise SendError(f"the Maildir {cfg.path} is not writable; check its permissions")
        return SmtpProbe(where=f"maildir:{cfg.path}", security="maildir", logged_in=True)
    transport = make_transport(settings)
    assert isinstance(transport, SmtpTransport)
    conn = transport._connect()  # noqa: SLF001 - the very path a flush takes
    try:
        try:
            conn.ehlo_or_helo_if_needed()
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"SMTP server {cfg.host}:{cfg.port} refused EHLO: {exc}") from None
        features = dict(conn.esmtp_features)
    finally:
        transport.conn = conn
        transport.close()
    return SmtpProbe(where=f"{cfg.host}:{cfg.port}", security=cfg.security,
                     logged_in=bool(cfg.user) or cfg.auth == "oauth2", features=features)
