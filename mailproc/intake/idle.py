"""IMAP IDLE for `mailproc run` (issue #12, item 4): one more connection to the poll folder,
waiting in IDLE; when the server says new mail exists, `arrived` is set and the run loop polls
at once instead of at the next interval.

The watcher only watches: it fetches nothing and marks nothing (the poll does, with its own
connection). IDLE is re-issued every `idle_minutes` (RFC 2177: before 29 minutes); a lost
connection is reopened with backoff (2, 4 … 300 s); a server without IDLE, or one where IDLE
keeps failing, leaves the poll every `poll_minutes` alone, with one log line saying so.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import threading
import time
from dataclasses import replace

from imap_tools.errors import ImapToolsError

from mailproc.config import MailboxSettings
from mailproc.errors import MailprocError
from mailproc.intake.mailbox import ImapSource
from mailproc.oauth import TokenSource

log = logging.getLogger(__name__)

GIVE_UP_AFTER = 8  # failures in a row before falling back to polling alone
MAX_BACKOFF = 300.0


class IdleWatcher(threading.Thread):
    def __init__(self, cfg: MailboxSettings, tokens: TokenSource | None,
                 arrived: threading.Event, *, idle_seconds: float = 25 * 60) -> None:
        super().__init__(name="mailproc-idle", daemon=True)
        self.cfg = replace(cfg, mode="keep")  # watching creates no folders
        self.tokens = tokens
        self.arrived = arrived
        self.idle_seconds = min(idle_seconds, 29 * 60)
        self.stopping = threading.Event()
        self.supported: bool | None = None  # None until the first connection says
        self.failures = 0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._watch()
                if self.supported is False:
                    log.info("the IMAP server offers no IDLE: polling every few minutes "
                             "only (schedule.poll_minutes)")
                    return
            except (MailprocError, OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
                self.failures += 1
                if self.failures >= GIVE_UP_AFTER:
                    log.warning("IMAP IDLE failed %d times in a row (%s): polling every "
                                "schedule.poll_minutes only, until mailproc is restarted",
                                self.failures, exc)
                    return
                delay = min(MAX_BACKOFF, 2.0 ** self.failures)
                log.warning("IMAP IDLE connection lost (%s); reconnecting in %.0f s", exc,
                            delay)
                wait_until_set(self.stopping, delay)

    def _watch(self) -> None:
        with ImapSource(self.cfg, self.tokens) as source:
            client = source.client
            self.supported = "IDLE" in client.capabilities
            if not self.supported:
                return
            source._select(self.cfg.folder)  # noqa: SLF001 - the watcher's own connection
            assert source.box is not None
            client.untagged_responses.pop("EXISTS", None)  # the count SELECT reports
            self.failures = 0
            self.arrived.set()  # mail may have come while nobody watched
            while not self.stopping.is_set():
                responses = source.box.idle.wait(timeout=self.idle_seconds)
                new = any(b"EXISTS" in line for line in responses)
                with contextlib.suppress(Exception):
                    client.noop()  # keeps the connection honest between IDLE rounds
                # Mail that arrived between two IDLE rounds is announced to the NOOP (or to
                # the start of IDLE, before its "+ idling"): imaplib keeps those lines.
                if client.untagged_responses.pop("EXISTS", None):
                    new = True
                if new:
                    log.debug("IMAP IDLE: new mail")
                    self.arrived.set()


def wait_until_set(event: threading.Event, seconds: float) -> bool:
    """Whether `event` is set within `seconds`. Short sleeps, not Event.wait(timeout): a
    timed lock wait has an absolute deadline on the wall clock, which a moved clock (the
    suite under faketime) turns into weeks; a relative sleep is not moved."""
    end = time.monotonic() + seconds
    while not event.is_set():
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(0.05, left))
    return True
