"""Where mail comes from: an IMAP folder (imap-tools) or a local Maildir; fetch, move, mark.

A source lists the mail that is new since a stored position, hands out raw bytes, and after the
caller has committed its work moves each message to the processed or quarantine folder (or, in
keep-in-place mode, marks it with an IMAP keyword). It never decides what a mail means.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import mailbox as stdlib_mailbox
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError, UnexpectedCommandStatusError
from imap_tools.utils import encode_folder

from mailproc.config import MailboxSettings
from mailproc.errors import ConfigError, MailboxError, MailprocError
from mailproc.oauth import TokenSource
from mailproc.tls import client_context

log = logging.getLogger(__name__)

# Bound one FETCH round trip by bytes as well as by count, so a batch of large mails cannot
# balloon memory (imaplib holds a whole response in memory).
MAX_BATCH_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Fetched:
    uid: str  # IMAP UID, or the Maildir key
    size: int
    raw: bytes  # the whole message; only the header when `too_large`
    received_at: datetime | None  # INTERNALDATE / delivery time, aware UTC
    too_large: bool = False


class Source(Protocol):
    key: str  # names the mailbox for stored positions; never holds a secret
    folder: str

    def __enter__(self) -> Source: ...
    def __exit__(self, *exc: object) -> None: ...
    def fetch_new(self, uidvalidity: int, last_uid: int,
                  max_bytes: int) -> tuple[int, int, Iterator[Fetched]]:
        """(uidvalidity, number of new mails, the mails in arrival order)."""
        ...
    def mark_done_many(self, items: list[tuple[str, bool]]) -> list[tuple[str, str]]:
        """Move or mark each (uid, quarantined); returns (uid, error) for those that failed."""
        ...


_TIMING = re.compile(r"\s*\(\d+\.\d+( \+ \d+\.\d+)* secs\)\.?$")


def _server_text(what: object) -> str:
    """What the IMAP server said, as one line: the text of a NO/BAD answer (imap-tools
    errors carry it in `command_result`), without Dovecot's timing suffix."""
    if isinstance(what, UnexpectedCommandStatusError):
        what = what.command_result[1]
    if isinstance(what, list | tuple):
        parts = [p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p)
                 for p in what if p is not None]
        text = " ".join(parts)
    else:
        text = str(what)
    return _TIMING.sub("", " ".join(text.split())) or "no reason given"


_FETCH_ITEM = re.compile(rb"UID (\d+)")
_SIZE_ITEM = re.compile(rb"RFC822\.SIZE (\d+)")
_DATE_ITEM = re.compile(rb'INTERNALDATE "([^"]+)"')


def _internaldate(head: bytes) -> datetime | None:
    m = _DATE_ITEM.search(head)
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1).decode(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None


class ImapSource:
    def __init__(self, cfg: MailboxSettings, tokens: TokenSource | None = None) -> None:
        self.cfg = cfg
        self.tokens = tokens  # for mailbox.auth = "oauth2"
        self.key = f"imap://{cfg.user}@{cfg.host}:{cfg.port}"
        self.folder = cfg.folder
        self.box: BaseMailBox | None = None
        self._status: dict[str, int] | None = None  # STATUS of the folder, read at __enter__
        self._selected = False
        # After a poll that found nothing new: every UID up to here is processed, quarantined
        # or deleted, so the stored position may move here (0: nothing to say).
        self.done_through = 0

    # -- connection --------------------------------------------------------------------------
    def __enter__(self) -> ImapSource:
        cfg = self.cfg
        where = f"{cfg.host}:{cfg.port}"
        try:
            if cfg.security == "ssl":
                box: BaseMailBox = MailBox(cfg.host, cfg.port, timeout=cfg.timeout,
                                           ssl_context=client_context(cfg.ca_file))
            elif cfg.security == "starttls":
                box = MailBoxStartTls(cfg.host, cfg.port, timeout=cfg.timeout,
                                      ssl_context=client_context(cfg.ca_file))
            else:
                box = MailBoxUnencrypted(cfg.host, cfg.port, timeout=cfg.timeout)
        except ssl.SSLCertVerificationError as exc:
            raise MailboxError(
                f"TLS certificate of {where} not trusted ({exc.verify_message}); if the server "
                "uses a private CA, set mailbox.ca_file to its certificate") from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"cannot connect to IMAP server {where}: {exc}; check "
                               f"{cfg.url_source} and that the server is reachable") from None
        try:
            if cfg.auth == "oauth2":
                self._login_xoauth2(box, where)
            else:
                box.login(cfg.user, cfg.password, initial_folder=None)
        except (ImapToolsError, imaplib.IMAP4.error) as exc:
            box.client.shutdown()
            raise MailboxError(f"IMAP login to {where} as {cfg.user!r} refused "
                               f"({_server_text(exc)}); check the user in {cfg.url_source} "
                               "and the password (MAILPROC_MAILBOX_PASSWORD)") from None
        except MailprocError:  # OAuthLoginNeeded, OAuthError, MailboxError
            box.client.shutdown()
            raise
        self.box = box
        self._selected = False
        try:
            self._refresh_capabilities()
            # STATUS, not SELECT: it proves the folder is there from the index header, where
            # a SELECT of a big folder costs the server ~0.2 s (50,000 mails). The folder is
            # selected on the first command that needs it; an idle poll never does.
            self._status = self._read_status()
            if cfg.mode == "move":
                for key, name in (("mailbox.processed_folder", cfg.processed_folder),
                                  ("mailbox.quarantine_folder", cfg.quarantine_folder)):
                    self._create_folder(key, name)
        except BaseException:
            self.__exit__()  # log out: nothing was fetched or moved
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.box is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error, ImapToolsError):
                self.box.logout()
            self.box = None

    def _login_xoauth2(self, box: BaseMailBox, where: str) -> None:
        """AUTHENTICATE XOAUTH2 with the stored token (refreshed first when it is about to
        expire). A refusal of a token that looked valid (revoked early, clock skew) gets one
        more try with a freshly refreshed token. Token problems raise OAuthError /
        OAuthLoginNeeded, so nothing is fetched and the mail stays in the mailbox."""
        cfg = self.cfg
        if self.tokens is None:
            raise MailboxError("mailbox.auth is oauth2 but no OAuth2 token source was given")
        try:
            box.xoauth2(cfg.user, self.tokens.access_token(), initial_folder=None)
            return
        except (ImapToolsError, imaplib.IMAP4.error) as exc:
            log.info("IMAP XOAUTH2 login to %s refused (%s); refreshing the token once", where,
                     exc)
        try:
            box.xoauth2(cfg.user, self.tokens.access_token(force_refresh=True),
                        initial_folder=None)
        except (ImapToolsError, imaplib.IMAP4.error) as exc:
            raise MailboxError(
                f"IMAP XOAUTH2 login to {where} as {cfg.user!r} refused with a fresh token "
                f"({exc}); check that {cfg.user} is the account that signed in with `mailproc "
                "auth login` (or has full access to it) and that IMAP is enabled for the "
                "mailbox") from None

    def _refresh_capabilities(self) -> None:
        # imaplib keeps the capabilities it saw before login; Dovecot announces MOVE and
        # UIDPLUS only after login, and without them a move degrades to COPY + EXPUNGE,
        # which would also expunge other clients' \Deleted mail.
        client = self.client
        typ, data = client.capability()
        if typ == "OK" and data and data[-1]:
            client.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())

    @property
    def client(self) -> imaplib.IMAP4:
        if self.box is None:
            raise MailboxError("the mailbox is not open")
        return self.box.client

    def _read_status(self) -> dict[str, int]:
        assert self.box is not None
        try:
            status = self.box.folder.status(self.folder, ["UIDVALIDITY", "UIDNEXT"])
            return {k: int(v) for k, v in status.items()}
        except (OSError, imaplib.IMAP4.error, ImapToolsError, ValueError) as exc:
            self._select(self.folder)  # a missing folder: says so, with the folders there
            raise MailboxError(
                f"IMAP STATUS of the folder {self.folder!r} on {self.cfg.host}:{self.cfg.port} "
                f"failed ({_server_text(exc)}); the server may be busy, the next poll tries "
                "again") from None

    def _select(self, folder: str) -> None:
        where = f"{self.cfg.host}:{self.cfg.port}"
        try:
            typ, data = self.client.select(encode_folder(folder))
        except (OSError, imaplib.IMAP4.error) as exc:
            typ, data = "NO", [str(exc).encode()]
        if typ == "OK":
            self._selected = True
            return
        try:
            names = sorted(f.name for f in self.box.folder.list()) if self.box else []
        except (OSError, imaplib.IMAP4.error, ImapToolsError):
            names = []
        known = f" (folders there: {', '.join(names)})" if names else ""
        raise MailboxError(
            f"cannot open the IMAP folder {folder!r} on {where}: {_server_text(data)}; put an "
            f"existing folder at the end of {self.cfg.url_source}, e.g. /INBOX{known}")

    def _create_folder(self, key: str, name: str) -> None:
        """Create the Processed / Quarantine folder when it is absent."""
        assert self.box is not None
        try:
            if self.box.folder.exists(name):
                return
            self.box.folder.create(name)
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
            raise MailboxError(
                f"cannot create the IMAP folder {name!r} ({key}) on {self.cfg.host}:"
                f"{self.cfg.port}: {_server_text(exc)}; choose another name in {key}, or "
                "create the folder in the mail client") from None
        log.info("created IMAP folder %s", name)

    def _uid(self, *args: object) -> list:
        if not self._selected:
            self._select(self.folder)
        try:
            typ, data = self.client.uid(*args)  # type: ignore[arg-type]
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(
                f"IMAP UID {args[0]} on {self.cfg.host}:{self.cfg.port} failed "
                f"({_server_text(exc)}); mail not yet moved stays in the mailbox and is "
                "taken again by the next poll") from None
        if typ != "OK":
            raise MailboxError(f"IMAP UID {args[0]} failed: {_server_text(data)}")
        return data

    # -- reading -----------------------------------------------------------------------------
    def fetch_new(self, uidvalidity: int, last_uid: int,
                  max_bytes: int) -> tuple[int, int, Iterator[Fetched]]:
        assert self.box is not None
        status, self._status = self._status or self._read_status(), None  # fresh next time
        current = int(status["UIDVALIDITY"])
        if current != uidvalidity:
            if uidvalidity:
                log.warning("UIDVALIDITY of %s changed (%s → %s): rescanning the folder; mail "
                            "already processed is recognised by Message-ID", self.folder,
                            uidvalidity, current)
            last_uid = 0
        if int(status.get("UIDNEXT", 0)) and int(status["UIDNEXT"]) <= last_uid + 1:
            return current, 0, iter(())  # nothing new: no SEARCH needed at all
        # UNDELETED: mail another client deleted (but did not expunge yet) is left alone.
        criteria = f"UID {last_uid + 1}:* UNDELETED"
        if self.cfg.mode == "keep":
            criteria += (f" NOT KEYWORD {self.cfg.processed_keyword}"
                         f" NOT KEYWORD {self.cfg.quarantine_keyword}")
        data = self._uid("SEARCH", criteria)
        # 'UID n:*' always matches the highest UID even when it is below n: filter.
        uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last_uid)
        if not uids and int(status.get("UIDNEXT", 0)):
            # Nothing unprocessed below UIDNEXT (as read before the SEARCH: a mail arriving
            # meanwhile has a UID at or above it), so an idle poll answers from STATUS alone.
            self.done_through = int(status["UIDNEXT"]) - 1
        return current, len(uids), self._iterate(uids, max_bytes)

    def _sizes(self, uids: list[int]) -> dict[int, int]:
        sizes: dict[int, int] = {}
        for i in range(0, len(uids), 500):
            chunk = ",".join(str(u) for u in uids[i:i + 500])
            for item in self._uid("FETCH", chunk, "(UID RFC822.SIZE)"):
                line = item[0] if isinstance(item, tuple) else item
                if not isinstance(line, bytes):
                    continue
                u, s = _FETCH_ITEM.search(line), _SIZE_ITEM.search(line)
                if u and s:
                    sizes[int(u.group(1))] = int(s.group(1))
        return sizes

    def _iterate(self, uids: list[int], max_bytes: int) -> Iterator[Fetched]:
        sizes = self._sizes(uids)
        batch: list[int] = []
        batch_bytes = 0
        for uid in uids:
            size = sizes.get(uid)
            if size is None:
                continue  # expunged by someone else since the search
            if size > max_bytes:
                yield from self._fetch_batch(batch, sizes)
                batch, batch_bytes = [], 0
                yield from self._fetch_headers(uid, size)
                continue
            if batch and (len(batch) >= self.cfg.fetch_batch
                          or batch_bytes + size > MAX_BATCH_BYTES):
                yield from self._fetch_batch(batch, sizes)
                batch, batch_bytes = [], 0
            batch.append(uid)
            batch_bytes += size
        yield from self._fetch_batch(batch, sizes)

    def _fetch_batch(self, batch: list[int], sizes: dict[int, int]) -> Iterator[Fetched]:
        if not batch:
            return
        data = self._uid("FETCH", ",".join(map(str, batch)), "(UID INTERNALDATE BODY.PEEK[])")
        for item in data:
            if not isinstance(item, tuple):
                continue
            m = _FETCH_ITEM.search(item[0])
            if not m:
                continue
            uid = int(m.group(1))
            yield Fetched(uid=str(uid), size=sizes.get(uid, len(item[1])), raw=item[1],
                          received_at=_internaldate(item[0]))

    def _fetch_headers(self, uid: int, size: int) -> Iterator[Fetched]:
        data = self._uid("FETCH", str(uid), "(UID INTERNALDATE BODY.PEEK[HEADER])")
        for item in data:
            if isinstance(item, tuple):
                yield Fetched(uid=str(uid), size=size, raw=item[1],
                              received_at=_internaldate(item[0]), too_large=True)
                return

    # -- after commit ---------------------------------------------------------------------
    def mark_done_many(self, items: list[tuple[str, bool]]) -> list[tuple[str, str]]:
        """One UID MOVE (or STORE) per target for the whole batch; on failure, one by one so
        a single bad message does not hold back the others."""
        failures: list[tuple[str, str]] = []
        for quarantined in (False, True):
            uids = [uid for uid, q in items if q is quarantined]
            if not uids:
                continue
            try:
                self._mark(",".join(uids), quarantined)
            except MailboxError:
                for uid in uids:
                    try:
                        self._mark(uid, quarantined)
                    except MailboxError as exc:
                        failures.append((uid, str(exc)))
        return failures

    def _mark(self, uid_set: str, quarantined: bool) -> None:
        cfg = self.cfg
        try:
            if cfg.mode == "keep":
                keyword = cfg.quarantine_keyword if quarantined else cfg.processed_keyword
                self._uid("STORE", uid_set, "+FLAGS.SILENT", f"({keyword})")
                return
            target = encode_folder(cfg.quarantine_folder if quarantined else cfg.processed_folder)
            caps = self.client.capabilities
            if "MOVE" in caps:
                self._uid("MOVE", uid_set, target)
                return
            self._uid("COPY", uid_set, target)
            self._uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)")
            if "UIDPLUS" in caps:
                self._uid("EXPUNGE", uid_set)  # only these messages
            else:
                log.warning("server has neither MOVE nor UIDPLUS: plain EXPUNGE after COPY")
                self.client.expunge()
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"cannot move/mark UID {uid_set}: {exc}") from None


class MaildirSource:
    """A local Maildir: the embedded default. Processed mail moves to the Maildir++ folders
    named like the IMAP ones, so Dovecot can serve the same tree."""

    def __init__(self, cfg: MailboxSettings) -> None:
        if cfg.mode == "keep":
            raise ConfigError("mailbox.mode: keep-in-place needs an IMAP mailbox (keywords); "
                              "use mode = \"move\" with a Maildir")
        assert cfg.path is not None
        self.cfg = cfg
        self.path: Path = cfg.path
        self.key = f"maildir:{cfg.path}"
        self.folder = "INBOX"
        self.box: stdlib_mailbox.Maildir | None = None

    def __enter__(self) -> MaildirSource:
        self.box = prepare_maildir(self.cfg)
        return self

    def __exit__(self, *exc: object) -> None:
        self.box = None

    def _file(self, key: str) -> Path:
        assert self.box is not None
        return Path(self.box._path) / self.box._lookup(key)  # noqa: SLF001

    def fetch_new(self, uidvalidity: int, last_uid: int,
                  max_bytes: int) -> tuple[int, int, Iterator[Fetched]]:
        assert self.box is not None
        stamped = []
        for key in self.box.iterkeys():
            try:
                stamped.append((self._file(key).stat().st_mtime, key))
            except (KeyError, FileNotFoundError):
                continue  # taken by another process meanwhile
        stamped.sort()  # oldest delivery first
        return 0, len(stamped), self._iterate(stamped, max_bytes)

    def _iterate(self, stamped: list[tuple[float, str]], max_bytes: int) -> Iterator[Fetched]:
        for mtime, key in stamped:
            when = datetime.fromtimestamp(mtime, UTC)
            try:
                path = self._file(key)
                size = path.stat().st_size
                if size > max_bytes:
                    with open(path, "rb") as fh:
                        head = fh.read(256 * 1024).replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
                    yield Fetched(uid=key, size=size, raw=head + b"\n\n", received_at=when,
                                  too_large=True)
                    continue
                raw = path.read_bytes()
            except (KeyError, FileNotFoundError):
                continue
            yield Fetched(uid=key, size=size, raw=raw, received_at=when)

    def mark_done_many(self, items: list[tuple[str, bool]]) -> list[tuple[str, str]]:
        assert self.box is not None
        failures: list[tuple[str, str]] = []
        folders = {q: self.box.get_folder(self.cfg.quarantine_folder if q
                                          else self.cfg.processed_folder) for q in (False, True)}
        for uid, quarantined in items:
            try:
                src = self._file(uid)
            except KeyError:
                continue  # already gone (moved by an earlier, interrupted poll)
            # A rename within the same tree keeps the bytes untouched and is atomic.
            dest = Path(folders[quarantined]._path) / "cur" / src.name  # noqa: SLF001
            try:
                src.rename(dest)
            except OSError as exc:
                failures.append((uid, str(exc)))
        return failures


def prepare_maildir(cfg: MailboxSettings) -> stdlib_mailbox.Maildir:
    """Create the Maildir inbox and its Processed / Quarantine folders when absent."""
    assert cfg.path is not None
    # Maildir(create=True) builds tmp/new/cur only when the folder itself is absent.
    cfg.path.parent.mkdir(parents=True, exist_ok=True)
    box = stdlib_mailbox.Maildir(str(cfg.path), factory=None, create=True)
    for name in (cfg.processed_folder, cfg.quarantine_folder):
        if name not in box.list_folders():
            box.add_folder(name)
    return box


def open_source(cfg: MailboxSettings, tokens: TokenSource | None = None) -> Source:
    """`tokens`: the OAuth2 token source when mailbox.auth is oauth2 (oauth.token_source)."""
    if cfg.kind == "maildir":
        return MaildirSource(cfg)
    return ImapSource(cfg, tokens)



# ---- probe (mailproc doctor) ---------------------------------------------------------------

@dataclass(frozen=True)
class MailboxProbe:
    """What `probe` found. Nothing was fetched, moved, marked or created."""

    where: str  # imap://user@host:port, or maildir:PATH
    security: str  # 'ssl', 'starttls', 'none' or 'maildir'
    folders: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()  # after login (IMAP)
    missing_folders: tuple[str, ...] = ()  # Processed / Quarantine, created by init or a poll


def find_sent(cfg: MailboxSettings, message_ids: list[str],
              tokens: TokenSource | None = None) -> set[str]:
    """Which of `message_ids` (without brackets) are in `cfg.sent_folder`, the copy the mail
    server files of each mail it accepted: over a connection of its own, read-only."""
    if cfg.kind != "imap" or not cfg.sent_folder:
        raise MailboxError("mailbox.sent_folder is not set (IMAP only)")
    found: set[str] = set()
    with ImapSource(replace(cfg, folder=cfg.sent_folder, mode="keep"), tokens) as sent:
        for mid in message_ids:
            if not mid or '"' in mid or "\\" in mid or not mid.isascii():
                continue  # never ours: mailproc makes plain ASCII Message-IDs
            data = sent._uid("SEARCH", f'HEADER Message-ID "{mid}"')
            if data and data[0] and data[0].split():
                found.add(mid)
    return found


def probe(cfg: MailboxSettings, tokens: TokenSource | None = None) -> MailboxProbe:
    """Check the mailbox the way a poll reaches it, without touching any mail: connect (TLS
    verified), log in through the poll's own code path, read the capabilities after login,
    open the poll folder and list the folders, log out. Raises MailboxError (or an OAuth
    error) whose message says what to fix."""
    if cfg.kind == "maildir":
        return _probe_maildir(cfg)
    # Keep mode: the poll's __enter__ then creates no Processed / Quarantine folder.
    source = ImapSource(replace(cfg, mode="keep"), tokens)
    with source:
        assert source.box is not None
        try:
            folders = tuple(f.name for f in source.box.folder.list())
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
            raise MailboxError(f"cannot list the IMAP folders of {source.key}: {exc}") from None
        caps = tuple(source.client.capabilities)
    wanted = (cfg.processed_folder, cfg.quarantine_folder) if cfg.mode == "move" else ()
    return MailboxProbe(where=source.key, security=cfg.security, folders=folders,
                        capabilities=caps,
                        missing_folders=tuple(f for f in wanted if f not in folders))


def _probe_maildir(cfg: MailboxSettings) -> MailboxProbe:
    assert cfg.path is not None
    where = f"maildir:{cfg.path}"
    if not all((cfg.path / sub).is_dir() for sub in ("cur", "new", "tmp")):
        raise MailboxError(f"{cfg.path} is not a Maildir (no cur/new/tmp); run `mailproc init` "
                           "or check mailbox.url")
    box = stdlib_mailbox.Maildir(str(cfg.path), factory=None, create=False)
    folders = tuple(box.list_folders())
    wanted = (cfg.processed_folder, cfg.quarantine_folder)
    return MailboxProbe(where=where, security="maildir", folders=("INBOX", *folders),
                        missing_folders=tuple(f for f in wanted if f not in folders))
