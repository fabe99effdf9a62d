"""Real mail servers on loopback for integration tests: Dovecot (IMAP, IMAPS, LMTP) and an
aiosmtpd SMTP relay that delivers into Dovecot over LMTP. Dovecot's process is started and
stopped by tests/procs.py.

No pytest dependency, so scripts and benchmarks can use the same servers.
"""

from __future__ import annotations

import asyncio
import atexit
import grp
import os
import pwd
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from imap_tools import MailBox, MailBoxUnencrypted
from procs import ManagedProcess, ProcessStartError, start_process, tail

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def real_clock_env() -> dict[str, str]:
    """The environment without libfaketime: `.ci/run` runs the suite a second time under
    `faketime` (a moved clock for the tests and mailproc), but a mail server is another
    machine with a clock of its own, and Dovecot's timers misbehave under a faked clock."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKETIME")}
    preload = [p for p in env.get("LD_PRELOAD", "").split(":") if p and "faketime" not in p]
    if preload:
        env["LD_PRELOAD"] = ":".join(preload)
    else:
        env.pop("LD_PRELOAD", None)
    return env

def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def unique_address(prefix: str = "user", domain: str = "example.test") -> str:
    """A fresh mail address, so tests sharing the session Dovecot never see each other's mail."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}@{domain}"


def find_dovecot() -> str | None:
    """Path of the dovecot binary; /usr/sbin is often missing from a non-root PATH."""
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")


def to_crlf(raw: bytes) -> bytes:
    """Normalise line endings: SMTP/LMTP/IMAP talk CRLF, and IMAP returns CRLF anyway."""
    return re.sub(rb"\r?\n", b"\r\n", raw)


def lmtp_deliver(
    host: str,
    port: int,
    mail_from: str,
    rcpt_tos: Iterable[str],
    raw: bytes,
    mail_options: Iterable[str] = (),
) -> None:
    """Deliver one message over LMTP, one transaction per recipient.

    smtplib.LMTP reads a single reply after DATA, but LMTP answers once per recipient, so a
    multi-recipient transaction would desynchronise the client.
    Raises smtplib.SMTPException subclasses on refusal.
    """
    data = to_crlf(raw)
    with smtplib.LMTP(host, port, timeout=10) as lmtp:
        lmtp.ehlo_or_helo_if_needed()
        # Forward only the MAIL FROM options Dovecot advertised (e.g. BODY=8BITMIME).
        options = [o for o in mail_options if lmtp.has_extn(o.split("=", 1)[0].lower())]
        for rcpt in rcpt_tos:
            lmtp.sendmail(mail_from, [rcpt], data, mail_options=options)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _make_traversable(path: Path) -> None:
    """Add o+x (search, not read) to `path` and its ancestors that we own and that lack it.

    Dovecot's mail and auth processes run as unprivileged users; pytest's tmp dirs are 0700
    (/tmp/pytest-of-root/pytest-N/...), so without this they cannot reach their home or the
    sockets in base_dir. pytest resets its own root to 0700 at the next session.
    """
    uid = os.geteuid()
    for p in [path, *path.parents]:
        st = p.stat()
        if st.st_uid == uid and not st.st_mode & 0o001:
            p.chmod((st.st_mode & 0o7777) | 0o001)


class DovecotError(RuntimeError):
    pass


class Dovecot:
    """A private Dovecot instance under `workdir`: any user name logs in with `password`."""

    host: str = HOST

    def __init__(self, workdir: Path, password: str = "secret") -> None:
        self.workdir = Path(workdir).resolve()
        self.password = password
        self.imap_port = 0
        self.imaps_port = 0
        self.lmtp_port = 0
        self.conf_file = self.workdir / "dovecot.conf"
        self.log_file = self.workdir / "dovecot.log"
        self.stderr_file = self.workdir / "dovecot.stderr"
        self.ca_file = self.workdir / "cert.pem"
        self.key_file = self.workdir / "key.pem"
        self.mail_root = self.workdir / "mail"
        self._proc: ManagedProcess | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.running

    def start(self) -> None:
        if self.running:
            return
        self.stop()  # a master that died on its own may have left children
        binary = find_dovecot()
        if binary is None:
            raise DovecotError("dovecot binary not found: run .ci/install")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._prepare_dirs()
        if not self.ca_file.exists():
            self._make_certificate()
        # free_port() can race with another process grabbing the port before Dovecot binds it:
        # retry with fresh ports when that is the failure.
        for attempt in range(3):
            self.imap_port, self.imaps_port, self.lmtp_port = self._three_ports()
            self.conf_file.write_text(self._config())
            self.conf_file.chmod(0o600)  # holds the password; workdir is traversable by others
            try:
                self._spawn(binary)
                atexit.register(self.stop)  # scripts that forget stop() leave nothing behind
                return
            except DovecotError as exc:
                if attempt == 2 or "Address already in use" not in str(exc):
                    raise

    def stop(self) -> None:
        """Stop Dovecot and every child process; safe to call more than once."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        proc.stop()  # SIGTERM: the master shuts its children (imap, lmtp, auth ...) down

    def kick(self, user: str) -> None:
        """Drop every IMAP connection of `user` (`doveadm kick`: the server says BYE and
        closes), as a server restart or a provider's idle cut-off does."""
        subprocess.run(["doveadm", "-c", str(self.conf_file), "kick", user], check=True,
                       capture_output=True, timeout=30)

    def _three_ports(self) -> tuple[int, int, int]:
        ports: set[int] = set()
        while len(ports) < 3:
            ports.add(free_port())
        a, b, c = ports
        return a, b, c

    def _spawn(self, binary: str) -> None:
        self.log_file.touch()
        log_start = self.log_file.stat().st_size
        try:
            self._proc = start_process(
                [binary, "-F", "-c", str(self.conf_file)],
                output=self.stderr_file,
                ready=self._imap_greets,
                start_timeout=START_TIMEOUT,
                stop_timeout=STOP_TIMEOUT,
                env=real_clock_env(),
            )
        except ProcessStartError as exc:
            raise DovecotError(
                f"Dovecot {exc.why} (config {self.conf_file}).\n"
                f"--- stderr ---\n{tail(self.stderr_file)}\n"
                f"--- log ---\n{tail(self.log_file, log_start)}"
            ) from None

    def _imap_greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.imap_port), timeout=1) as sock:
                return sock.recv(200).startswith(b"* OK")
        except OSError:
            return False

    # ---- setup -----------------------------------------------------------------------------

    def _accounts(self) -> tuple[str, str, str, str, str]:
        """(mail user, mail group, internal user, internal group, login user) for Dovecot."""
        if os.geteuid() != 0:
            # Rootless: everything runs as us (Dovecot cannot switch users anyway).
            me = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
            return me, group, me, group, me
        if _user_exists("dovenull"):
            mail_user = "dovenull"
            mail_group = "dovenull" if _group_exists("dovenull") else "nogroup"
        else:
            mail_user, mail_group = "nobody", "nogroup"
        internal = "dovecot" if _user_exists("dovecot") else mail_user
        internal_group = "dovecot" if _group_exists("dovecot") else mail_group
        return mail_user, mail_group, internal, internal_group, mail_user

    def _prepare_dirs(self) -> None:
        mail_user, mail_group, *_ = self._accounts()
        self.mail_root.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            _make_traversable(self.workdir)
            # Homes are created by the mail processes, which run as the mail user.
            shutil.chown(self.mail_root, mail_user, mail_group)
            self.mail_root.chmod(0o700)

    def _make_certificate(self) -> None:
        # EC key: generated in milliseconds, unlike RSA. CA:TRUE + SAN lets the same PEM serve
        # as leaf and trust anchor for hostname-checking clients (ssl.create_default_context).
        openssl = shutil.which("openssl")
        if openssl is None:
            raise DovecotError("openssl not found: run .ci/install")
        # fmt: off
        subprocess.run(
            [
                openssl, "req", "-x509", "-nodes", "-days", "30",
                "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", str(self.key_file), "-out", str(self.ca_file),
                "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
                "-addext", "extendedKeyUsage=serverAuth",
            ],
            check=True,
            capture_output=True,
        )
        # fmt: on
        self.key_file.chmod(0o600)

    def _config(self) -> str:
        mail_user, mail_group, internal, internal_group, login = self._accounts()
        w = self.workdir
        rootless = os.geteuid() != 0
        # Rootless Dovecot cannot chroot (imap-login and anvil chroot by default).
        chroot = "  chroot =\n" if rootless else ""
        return f"""\
# Generated by tests/servers.py for one test session; nothing is read from /etc/dovecot.
instance_name = mailproc-test-{self.imap_port}
base_dir = {w}/run
state_dir = {w}/state
log_path = {self.log_file}
info_log_path = {self.log_file}
debug_log_path = {self.log_file}
protocols = imap lmtp
listen = {self.host}
first_valid_uid = 1
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
ssl = yes
ssl_cert = <{self.ca_file}
ssl_key = <{self.key_file}
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_verbose = yes
passdb {{
  driver = static
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={self.mail_root}/%u
}}
mail_location = maildir:~/Maildir
mail_plugins =
namespace inbox {{
  inbox = yes
  separator = /
}}
# LMTP into a folder that does not exist yet creates it instead of falling back to INBOX.
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.imaps_port}
    ssl = yes
  }}
{chroot}}}
service anvil {{
{chroot}}}
service lmtp {{
  inet_listener lmtp {{
    address = {self.host}
    port = {self.lmtp_port}
  }}
}}
"""

    # ---- mail helpers ----------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's self-signed certificate."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def mailbox(self, user: str, initial_folder: str | None = "INBOX") -> MailBoxUnencrypted:
        """A logged-in plain-IMAP imap-tools mailbox (use as a context manager)."""
        box = MailBoxUnencrypted(self.host, self.imap_port, timeout=10)
        return box.login(user, self.password, initial_folder=initial_folder)

    def mailbox_ssl(self, user: str, initial_folder: str | None = "INBOX") -> MailBox:
        """A logged-in IMAPS mailbox, certificate verified against `ca_file`."""
        box = MailBox(self.host, self.imaps_port, timeout=10, ssl_context=self.ssl_context())
        return box.login(user, self.password, initial_folder=initial_folder)

    def deliver(self, user: str, raw: bytes, mail_from: str = "harness@example.test") -> None:
        """Deliver `raw` to `user`'s INBOX over LMTP, as a real MTA would."""
        lmtp_deliver(self.host, self.lmtp_port, mail_from, [user], raw)

    def append(
        self, user: str, raw: bytes, folder: str = "INBOX", flags: Iterable[str] = ()
    ) -> None:
        """IMAP APPEND `raw` into `folder` (created if missing)."""
        with self.mailbox(user, initial_folder=None) as box:
            if folder.upper() != "INBOX" and not box.folder.exists(folder):
                box.folder.create(folder)
            box.append(to_crlf(raw), folder, flag_set=list(flags))

    def fetch_raw(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Every message's exact bytes in UID order, read-only (EXAMINE + BODY.PEEK)."""
        with self.mailbox(user, initial_folder=None) as box:
            box.folder.set(folder, readonly=True)  # EXAMINE: \Seen and \Recent untouched
            uids = box.uids()
            if not uids:
                return []
            typ, data = box.client.uid("FETCH", ",".join(uids), "(UID BODY.PEEK[])")
            if typ != "OK":
                raise DovecotError(f"UID FETCH failed: {typ} {data!r}")
        messages: list[tuple[int, bytes]] = []
        for item in data:
            if isinstance(item, tuple):
                m = re.search(rb"UID (\d+)", item[0])
                messages.append((int(m.group(1)) if m else 0, item[1]))
        return [raw for _, raw in sorted(messages)]

    def folders(self, user: str) -> list[str]:
        with self.mailbox(user, initial_folder=None) as box:
            return [f.name for f in box.folder.list()]

    def maildir_path(self, user: str) -> Path:
        # auth_username_format defaults to %Lu: Dovecot lower-cases the user name.
        return self.mail_root / user.lower() / "Maildir"


class _RelayHandler:
    def __init__(self, relay: SmtpRelay) -> None:
        self.relay = relay

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        answer = self.relay._scripted("MAIL")
        if answer:
            return answer
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        answer = self.relay._scripted("RCPT") or self.relay.refuse.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        relay = self.relay
        with relay._lock:
            relay.data_attempts += 1
            if relay._fail_left > 0:
                relay._fail_left -= 1
                return f"{relay._fail_code} 4.3.0 Temporary failure (SmtpRelay.fail_next)"
        answer = relay._scripted("DATA")
        if answer:
            return answer
        if relay.data_delay:
            await asyncio.sleep(relay.data_delay)  # a slow server: flushers overlap
        raw = envelope.original_content or b""
        mail_from = envelope.mail_from or ""
        rcpts = list(envelope.rcpt_tos)
        # Dovecot 2.3's LMTP has no SMTPUTF8: a non-ASCII recipient is accepted and recorded
        # in `received` (as a relay passing it on would), not delivered into Dovecot.
        local = [r for r in rcpts if r.isascii()]
        options = [o for o in envelope.mail_options if o.upper() != "SMTPUTF8"]
        sent_copy = relay.sent_copies and mail_from.isascii() and "@" in mail_from

        def accept() -> None:
            # One job on a worker thread, so that a client that disconnects (which cancels
            # this coroutine) cannot stop it half-way: the Sent copy first, as Gmail and
            # Microsoft 365 file it when they accept a mail, then the delivery.
            if sent_copy:
                relay.dovecot.append(mail_from, raw, folder="Sent")
            if local:
                lmtp_deliver(relay.dovecot.host, relay.dovecot.lmtp_port, mail_from, local,
                             raw, options)

        try:
            # smtplib blocks; keep the server's event loop free for other connections.
            await asyncio.get_running_loop().run_in_executor(None, accept)
        except smtplib.SMTPResponseException as exc:
            return f"{exc.smtp_code} LMTP: {exc.smtp_error.decode(errors='replace')}"
        except smtplib.SMTPRecipientsRefused as exc:
            code, msg = next(iter(exc.recipients.values()))
            return f"{code} LMTP: {msg.decode(errors='replace')}"
        except (OSError, smtplib.SMTPException) as exc:
            return f"451 4.4.1 LMTP delivery failed: {exc}"
        with relay._lock:
            relay.received.append((mail_from, rcpts, raw))
            relay.received_options.append(list(envelope.mail_options))
        return "250 2.0.0 OK delivered"


class SmtpRelay:
    """SMTP server on loopback delivering every accepted message into `dovecot` via LMTP.

    The recipient address is the Dovecot user name (the full address). With `smtputf8` the
    server offers SMTPUTF8 (RFC 6531); mail to non-ASCII addresses is then recorded in
    `received` but not delivered into Dovecot, whose LMTP has no SMTPUTF8. With `password` it
    offers AUTH (without TLS) and accepts any user name with that password.

    Outages: `refuse` answers RCPT for given recipients (for good), `fail_next` the next DATA
    commands with a code, and `script(command, replies)` answers the next MAIL, RCPT or DATA
    commands from a list, e.g. a 421 in the middle of a batch. Like smtplib's peer, the relay
    does not hang up after a 421 itself: the client closes, as RFC 5321 lets it.
    """

    host: str = HOST

    def __init__(self, dovecot: Dovecot, port: int | None = None, *,
                 smtputf8: bool = False, password: str | None = None) -> None:
        self.dovecot = dovecot
        self.port = port or 0
        self.smtputf8 = smtputf8
        self.password = password
        self.received: list[tuple[str, list[str], bytes]] = []
        self.received_options: list[list[str]] = []  # MAIL FROM parameters, per received mail
        self.refuse: dict[str, str] = {}  # recipient → the reply to its RCPT, e.g. "550 5.1.1 …"
        self.sent_copies = False  # file each accepted mail in the sender's "Sent" folder
        self.data_attempts = 0  # DATA commands seen, including the failed ones
        self.data_delay = 0.0  # seconds each accepted DATA takes
        self._fail_left = 0
        self._fail_code = 451
        self._script: dict[str, list[str | None]] = {"MAIL": [], "RCPT": [], "DATA": []}
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def __enter__(self) -> SmtpRelay:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Start listening; after a stop() it comes back on the same port."""
        if self._controller is not None:
            return
        if not self.port:
            self.port = free_port()
        # A Controller closes its event loop on stop, so each start needs a new one.
        # server_hostname avoids a slow getfqdn() lookup.
        kwargs: dict[str, Any] = {"server_hostname": "localhost", "ready_timeout": 5.0,
                                  "enable_SMTPUTF8": self.smtputf8}
        if self.password is not None:
            kwargs |= {"authenticator": self._authenticate, "auth_require_tls": False}
        controller = Controller(_RelayHandler(self), hostname=self.host, port=self.port, **kwargs)
        controller.start()
        self._controller = controller

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and self.password is not None
              and auth_data.password == self.password.encode())
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 235 / 535

    def stop(self) -> None:
        """Stop listening (connections are then refused); safe to call more than once."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def fail_next(self, n: int, code: int = 451) -> None:
        """Answer the next `n` DATA commands with `code` (a temporary failure by default)."""
        with self._lock:
            self._fail_left = n
            self._fail_code = code

    def script(self, command: str, replies: Iterable[str | None]) -> None:
        """Answer the next `command`s ("MAIL", "RCPT" or "DATA") from `replies`, in order:
        a reply such as "421 4.3.2 Service shutting down", or None to let that one through
        as usual. Once the list is used up the server behaves normally again."""
        with self._lock:
            self._script[command.upper()] = list(replies)

    def _scripted(self, command: str) -> str | None:
        with self._lock:
            queue = self._script[command]
            return queue.pop(0) if queue else None
