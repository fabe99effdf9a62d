"""Outages (issue #12, item 2) against the real servers: the IMAP connection dropping in the
middle of a poll; the SMTP server dropping the connection in the middle of DATA, or answering
421 (closing) to MAIL FROM, RCPT TO or DATA in the middle of a batch; another process holding
SQLite's write lock past the busy timeout; PostgreSQL restarting under `mailproc run`. Nothing
is lost, nothing is done or sent twice, each says what happened in one line, and the next run
recovers without a person."""

from __future__ import annotations

import contextlib
import email
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MailEnv
from crashharness import ACK, complaint, main_env
from pgserver import PostgresServer, start_for_tests

from mailproc.intake import mailbox as mailbox_mod


def _acks(mailenv: MailEnv, senders: list[str]) -> dict[str, int]:
    return {s: sum(ACK.encode() in raw[:4000] for raw in mailenv.dovecot.fetch_raw(s))
            for s in senders}


def test_imap_dropping_mid_poll_loses_nothing_and_repeats_nothing(mailenv: MailEnv,
                                                                  monkeypatch):
    text = mailenv.config.read_text()
    mailenv.config.write_text(text.replace("timeout_seconds = 20\n",
                                           "timeout_seconds = 20\nfetch_batch = 3\n", 1))
    mails = [complaint(n, mailenv.tok) for n in range(1, 9)]
    for _, raw in mails:
        mailenv.deliver(raw)
    real = mailbox_mod.ImapSource._fetch_batch
    calls = Counter()

    def dropping(self, batch, sizes):
        calls["fetch"] += 1
        if calls["fetch"] == 2:
            self.client.shutdown()  # the server (or the network) goes away mid-poll
        yield from real(self, batch, sizes)

    monkeypatch.setattr(mailbox_mod.ImapSource, "_fetch_batch", dropping)
    first = mailenv.run("poll", "--json")
    assert first.exit_code != 0
    lines = [line for line in first.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "taken again by the next poll" in lines[0], first.output
    monkeypatch.undo()
    second = mailenv.poll()
    registered = json.loads(mailenv.run("complaints", "list", "--json").stdout)
    assert len(registered) == 8 and len({r["number"] for r in registered}) == 8
    assert second["fetched"] == 5  # the first batch of three was kept and moved
    assert mailenv.dovecot.fetch_raw(mailenv.inbox) == []
    assert _acks(mailenv, [s for s, _ in mails]) == {s: 1 for s, _ in mails}


class _DroppingSmtp:
    """An SMTP server that takes the envelope, reads part of DATA and closes the connection
    (as a crashing or restarting server does)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.dropped = 0
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                f = conn.makefile("rwb")
                f.write(b"220 localhost ESMTP\r\n")
                f.flush()
                for line in f:
                    cmd = line[:4].upper()
                    if cmd in (b"EHLO", b"HELO"):
                        f.write(b"250 localhost\r\n")
                    elif cmd == b"DATA":
                        f.write(b"354 go ahead\r\n")
                        f.flush()
                        f.readline()  # a line of the message, then gone
                        self.dropped += 1
                        f.close()
                        conn.shutdown(socket.SHUT_RDWR)
                        break
                    elif cmd == b"QUIT":
                        f.write(b"221 bye\r\n")
                        f.flush()
                        break
                    else:
                        f.write(b"250 OK\r\n")
                    f.flush()

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        self.thread.join(timeout=5)


def test_smtp_dropping_in_the_middle_of_data_defers_then_sends_once(mailenv: MailEnv):
    server = _DroppingSmtp()
    try:
        good = mailenv.config.read_text()
        mailenv.config.write_text(good.replace(f"smtp://127.0.0.1:{mailenv.relay.port}",
                                               f"smtp://127.0.0.1:{server.port}"))
        sender, raw = complaint(1, mailenv.tok)
        mailenv.deliver(raw)
        summary = mailenv.poll()
        assert summary["registered"] and summary["sent"] == 0 and summary["deferred"] >= 1
        # The first mail's DATA was lost and the rest deferred with it (the server is down,
        # not the mail); the poll's last flush found nothing due yet (backoff).
        assert server.dropped == 1
        listed = json.loads(mailenv.run("outbox", "list", "--json").stdout)
        assert {r["status"] for r in listed} == {"queued"}
        assert all(r["last_error"] for r in listed)
    finally:
        server.close()
    mailenv.config.write_text(good)
    time.sleep(2.1)  # backoff_seconds = 1, doubled at most to 2 in the test config
    assert mailenv.run("outbox", "flush").exit_code == 0
    assert _acks(mailenv, [sender]) == {sender: 1}


def _noted(caplog: pytest.LogCaptureFixture) -> list[str]:
    """mailproc's warnings and errors, each marked when it came with a traceback."""
    return [f"{r.levelname} {r.getMessage()}" + (" [traceback]" if r.exc_info else "")
            for r in caplog.records
            if r.name.startswith("mailproc") and r.levelno >= logging.WARNING]


def _message_ids(raws: list[bytes]) -> Counter[str]:
    return Counter(str(email.message_from_bytes(raw)["Message-ID"]).strip("<>") for raw in raws)


@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA"])
def test_smtp_421_in_the_middle_of_a_batch_defers_then_sends_each_once(
        mailenv: MailEnv, caplog: pytest.LogCaptureFixture, command: str) -> None:
    """421: the relay is shutting down (RFC 5321 4.2.3), answered to MAIL FROM, RCPT TO or
    DATA after some mail of the batch went through. smtplib closes the connection on 421."""
    text = mailenv.config.read_text()
    # A backoff longer than the test: only the test clock moving on ends it.
    mailenv.config.write_text(text.replace("backoff_seconds = 1\nbackoff_max_seconds = 2",
                                           "backoff_seconds = 300\nbackoff_max_seconds = 600"))
    mails = [complaint(n, mailenv.tok) for n in range(1, 4)]
    for _, raw in mails:
        mailenv.deliver(raw)
    mailenv.relay.script(command, [None, None, "421 4.3.2 Service shutting down"])
    first = mailenv.run("poll", "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    accepted = len(mailenv.relay.received)
    assert len(summary["registered"]) == 3 and summary["failed"] == 0
    assert summary["sent"] == accepted >= 1 and summary["deferred"] >= 1
    noted = _noted(caplog)  # one line for the batch, not one per mail
    assert len(noted) == 1 and noted[0].startswith("WARNING mail server unavailable"), noted
    assert f"127.0.0.1:{mailenv.relay.port}" in noted[0] and "421 4.3.2" in noted[0], noted
    waiting = json.loads(mailenv.run("outbox", "list", "--json").stdout)
    assert len(waiting) == summary["deferred"]
    assert all(r["status"] == "queued" and "421" in r["last_error"] for r in waiting)
    # Within the backoff nothing is tried again; past it, the next poll reconnects by itself.
    assert mailenv.poll()["sent"] == 0 and len(mailenv.relay.received) == accepted
    mailenv.clock.advance(600)
    caplog.clear()
    after = mailenv.poll()
    assert after["sent"] == len(waiting) and after["deferred"] == after["failed"] == 0
    everything = json.loads(mailenv.run("outbox", "list", "--all", "--json").stdout)
    assert {r["status"] for r in everything} == {"sent"}
    sent = _message_ids([raw for _, _, raw in mailenv.relay.received])
    assert sent == Counter(r["message_id"].strip("<>") for r in everything)  # each once
    assert _acks(mailenv, [s for s, _ in mails]) == {s: 1 for s, _ in mails}
    assert _noted(caplog) == []


_HOLD_WRITE_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()  # until the test lets go (or dies: the pipe closes)
db.execute("ROLLBACK")
"""


class _WriteLockHolder:
    """Another process holding the SQLite database's write lock, as a long script, a backup
    tool or a sqlite3 shell left in a transaction does."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _HOLD_WRITE_LOCK, str(path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        try:
            assert self.proc.stdout.readline().strip() == "locked"
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Let go of the lock; safe to call more than once."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.communicate("\n", timeout=10)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.sqlite_only("another process holding SQLite's write lock")
def test_sqlite_busy_stops_the_poll_and_the_next_poll_takes_the_mail(
        mailenv: MailEnv, caplog: pytest.LogCaptureFixture) -> None:
    """Another process keeps the write lock past mailproc's busy timeout while it polls: one
    clear line, no traceback, the mail stays in the mailbox (not moved, not quarantined), and
    the poll after the lock is gone registers and acknowledges each mail once."""
    assert mailenv.poll()["fetched"] == 0  # the mailbox's position is stored, as in service
    mails = [complaint(n, mailenv.tok) for n in range(1, 4)]
    for _, raw in mails:
        mailenv.deliver(raw)
    holder = _WriteLockHolder(mailenv.root / "var" / "mailproc.db")
    try:
        started = time.monotonic()
        first = mailenv.run("poll", "--json")
        waited = time.monotonic() - started
    finally:
        holder.close()
    assert first.exit_code == 1
    lines = [line for line in first.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "busy: another process has held its write lock" in lines[0]
    assert "nothing was lost" in lines[0] and "fuser" in lines[0], lines
    assert not [n for n in _noted(caplog) if "[traceback]" in n], _noted(caplog)
    assert waited < 10 + 8  # one busy timeout, not one per batch or per write
    assert len(mailenv.dovecot.fetch_raw(mailenv.inbox)) == 3  # still there, unmarked
    assert mailenv.dovecot.fetch_raw(mailenv.inbox, folder="Quarantine") == []
    assert json.loads(mailenv.run("complaints", "list", "--json").stdout) == []
    caplog.clear()
    second = mailenv.poll()
    assert len(second["registered"]) == 3 and second["errors"] == []
    assert second["outcomes"] == {"complaint": 3}, second
    assert mailenv.dovecot.fetch_raw(mailenv.inbox) == []
    assert _acks(mailenv, [s for s, _ in mails]) == {s: 1 for s, _ in mails}
    assert _noted(caplog) == []


@pytest.fixture
def restartable_postgres(request: pytest.FixtureRequest) -> PostgresServer:
    """A cluster of this test's own, since the test stops and starts it; removed at the end
    even when the test fails."""
    return start_for_tests(request)


def _wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return check()


def test_postgres_restarting_under_mailproc_run_recovers_by_itself(
        mailenv: MailEnv, restartable_postgres: PostgresServer) -> None:
    """PostgreSQL goes down under a running `mailproc run` (a fast shutdown, as a service
    restart does: every session ended) while a complaint arrives, and comes back on the same
    port and data:
    the loop says so in one line a poll, keeps running, reconnects by itself, and registers
    and acknowledges the complaint once."""
    pg = restartable_postgres
    text = mailenv.config.read_text()
    assert f'url = "{mailenv.database_url}"' in text
    mailenv.config.write_text(
        text.replace(f'url = "{mailenv.database_url}"', f'url = "{pg.url}"')
        + "\n[schedule]\npoll_minutes = 0.05\nidle = false\n")  # a poll every 3 s
    env = main_env(mailenv.dovecot.password)
    argv = [sys.executable, "-m", "mailproc", "--config", str(mailenv.config)]
    assert subprocess.run([*argv, "init"], env=env, capture_output=True).returncode == 0
    log_path = mailenv.root / "run.log"

    def unavailable() -> int:
        return log_path.read_text(errors="replace").count("the database is unavailable")

    first, second = complaint(1, mailenv.tok), complaint(2, mailenv.tok)
    with open(log_path, "wb") as log_file:
        run = subprocess.Popen([*argv, "run"], env=env, stdout=log_file, stderr=log_file)
    try:
        mailenv.deliver(first[1])
        assert _wait_for(lambda: _acks(mailenv, [first[0]])[first[0]] == 1, 20)
        # Down once the cycle has sent all it queued: a mail whose send the server accepted
        # but whose 'sent' mark the database never got stays 'sending', for the Sent folder
        # check (mailbox.sent_folder) or a person, as after a crash.
        assert _wait_for(lambda: json.loads(subprocess.run(
            [*argv, "outbox", "list", "--json"], env=env, capture_output=True,
            check=True).stdout) == [], 20)
        pg.halt()
        mailenv.deliver(second[1])
        # Two polls fail while it is down: the one on the dead connection, then a refused
        # reconnect; the complaint waits in the mailbox.
        assert _wait_for(lambda: unavailable() >= 2, 15), log_path.read_text()
        assert len(mailenv.dovecot.fetch_raw(mailenv.inbox)) == 1
        pg.resume()
        assert _wait_for(lambda: _acks(mailenv, [second[0]])[second[0]] == 1, 20), \
            log_path.read_text()
        time.sleep(4)  # another poll: nothing may come twice
        assert run.poll() is None  # the loop kept running through the outage
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log and "failed unexpectedly" not in log, log
    problems = [line for line in log.splitlines() if (" ERROR " in line or " WARNING " in line)
                and "the database is unavailable" not in line]
    assert problems == [], problems
    assert log.index("the database is reachable again") > log.rindex("is unavailable")
    assert mailenv.dovecot.fetch_raw(mailenv.inbox) == []
    assert _acks(mailenv, [first[0], second[0]]) == {first[0]: 1, second[0]: 1}
    assert set(_message_ids([raw for _, _, raw in mailenv.relay.received]).values()) == {1}
    listed = json.loads(subprocess.run([*argv, "complaints", "list", "--json"], env=env,
                                       capture_output=True, check=True).stdout)
    assert len(listed) == 2 and len({c["number"] for c in listed}) == 2
