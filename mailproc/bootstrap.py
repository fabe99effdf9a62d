"""The composition root: builds the one `App` every use case is handed.

Nothing else wires adapters together. The App carries the settings, the clock (injected by
tests), the archive (its staged writes wired to the store's transaction outcome), the mail
texts, the working-day calendar (built once, from the holidays and the company's days off), and
the factories of the mail source and transport. It never sets attributes on itself after
construction, and it is the only place where `store.on_outcome` meets `Archive`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mailproc.archive import Archive
from mailproc.domain import calendar as cal
from mailproc.outgoing.texts import MailTexts

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from mailproc.config import Settings
    from mailproc.intake.mailbox import Source
    from mailproc.outgoing.outbox import FlushResult
    from mailproc.outgoing.transports import Transport

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


LOGO_MAX_BYTES = 1024 * 1024
_PNG = b"\x89PNG\r\n\x1a\n"


def logo_problem(path: Path) -> str:
    """What is wrong with the logo file at `path` ('' when nothing): forms take a PNG."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror or exc}); set company.logo to a PNG file"
    if head != _PNG:
        return f"{path}: not a PNG image; save the logo as .png"
    if size > LOGO_MAX_BYTES:
        return f"{path}: {size // 1024} KB, more than 1 MB; save a smaller PNG (about 600 px wide)"
    return ""


@dataclass(frozen=True)
class App:
    """What every use case needs; built by `build_app` (or by tests with their own clock)."""

    settings: Settings
    archive: Archive
    texts: MailTexts
    clock: Clock = field(default=system_clock)

    @cached_property
    def calendar(self) -> cal.WorkCalendar:
        """The company's working-day calendar: national holidays (and cuti bersama when
        configured) for the years around today, plus the company's own days off."""
        from mailproc.holidays_id import indonesian_days_off  # the `holidays` data is heavy

        c = self.settings.calendar
        now = self.clock()
        days_off = dict(indonesian_days_off(range(now.year - 1, now.year + 3),
                                            cuti_bersama=c.cuti_bersama))
        days_off.update({d: "libur perusahaan" for d in c.company_days_off})
        return cal.WorkCalendar(tz=self.settings.timezone, hours=c.hours, days_off=days_off,
                                day_length=c.day_length)

    @cached_property
    def company_logo(self) -> bytes:
        """The company logo the forms print (company.logo), read once per process; b'' when
        none is configured or it is not a readable PNG of at most 1 MB (the forms then print
        their "LOGO" placeholder; the log says why once, `mailproc doctor` too)."""
        path = self.settings.company.logo
        if path is None:
            return b""
        problem = logo_problem(path)
        if problem:
            log.warning("company logo not used: %s", problem)
            return b""
        return path.read_bytes()

    def company_context(self) -> dict[str, object]:
        """`company` of every form's and report's render context: name, address, logo."""
        c = self.settings.company
        return {"name": c.name, "address": c.address, "logo": self.company_logo}

    def first_response_due(self, received_at: datetime) -> datetime:
        """Procedure 4.4: the first response within N working days (1) of receipt."""
        return cal.first_response_due(received_at, self.calendar,
                                      self.settings.calendar.first_response_days)

    def plan_due(self, issued_at: datetime) -> datetime:
        """When the department's analysis and plan are due."""
        return self.calendar.add_working_days(issued_at, self.settings.calendar.plan_days)

    def open_source(self) -> Source:
        """The configured mailbox (IMAP or Maildir), not yet connected."""
        from mailproc import oauth
        from mailproc.intake.mailbox import open_source

        return open_source(self.settings.mailbox, oauth.token_source(self.settings, "mailbox"))

    def sent_lookup(self) -> Callable[[list[str]], set[str]] | None:
        """What the outbox asks about mail a crash left 'sending': which of these
        Message-IDs the mail server filed in `mailbox.sent_folder` (None: not configured)."""
        cfg = self.settings.mailbox
        if cfg.kind != "imap" or not cfg.sent_folder:
            return None

        def lookup(message_ids: list[str]) -> set[str]:
            from mailproc import oauth
            from mailproc.intake.mailbox import find_sent

            return find_sent(cfg, message_ids, oauth.token_source(self.settings, "mailbox"))
        return lookup

    def open_transport(self) -> Transport:
        """The configured sender (SMTP or a local Maildir); the caller closes it."""
        from mailproc.outgoing.transports import make_transport

        return make_transport(self.settings)

    def flush_outbox(self) -> FlushResult:
        """Send what is queued and due, over a transport opened for this flush only (the
        CLI's commands and the web page's actions after their step)."""
        from mailproc.outgoing import outbox as outbox_mod  # the mail adapters: not for --help

        transport = self.open_transport()
        try:
            return outbox_mod.flush(self.settings, self.archive, transport, self.clock(),
                                    texts=self.texts, sent_lookup=self.sent_lookup())
        finally:
            transport.close()


def build_app(settings: Settings, clock: Clock = system_clock) -> App:
    """The App for `settings`: the archive stages its writes until the open transaction
    commits (`store.on_outcome`), so a rolled-back step leaves no file behind."""
    from mailproc import store  # peewee: the CLI imports this module for every command

    return App(settings, Archive(settings.archive_dir, defer=store.on_outcome),
               MailTexts(settings.templates_dir), clock)
