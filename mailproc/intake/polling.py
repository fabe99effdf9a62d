"""The intake cycle: fetch what is new in the mailbox, a batch at a time; work ahead outside
any transaction, record the batch in one transaction (a savepoint per mail), mark it done
after the commit, and move the stored position. What happens to one mail is
`mailproc.intake.services`', imported at the first mail so that an idle poll stays light.

Must not parse, decide or record a mail itself.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mailproc import memory, store
from mailproc.domain.intake import Verdict
from mailproc.errors import EnvironmentFailure, explain_os_error, is_environment_failure
from mailproc.store import queries

if TYPE_CHECKING:
    from mailproc.bootstrap import App
    from mailproc.intake.mailbox import Fetched, Source
    from mailproc.intake.services import Ahead, Outcome

log = logging.getLogger(__name__)


@dataclass
class PollSummary:
    fetched: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    registered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"fetched": self.fetched, "outcomes": dict(self.outcomes),
                "registered": self.registered, "errors": self.errors,
                "seconds": round(self.seconds, 3)}


class StopFlag:
    """Set by a signal handler; checked between messages so the current one finishes."""

    def __init__(self) -> None:
        self.stop = False


def _batches(mails: Iterable[Fetched], size: int) -> Iterator[list[Fetched]]:
    batch: list[Fetched] = []
    for fetched in mails:
        batch.append(fetched)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _work_ahead(app: App, batch: list[Fetched]) -> list[Ahead]:
    from mailproc.intake.services import work_ahead

    aheads = []
    registrations = 0
    for fetched in batch:
        ahead = work_ahead(app, fetched, registrations_before=registrations)
        registrations += ahead.new is not None
        aheads.append(ahead)
    return aheads


def _environment_reason(exc: BaseException | None) -> str | None:
    """Why the machine, not the mail, failed (a full disk, an unwritable folder, a database
    another process keeps locked or a database server that is gone), looking through the
    exceptions raised while handling it: SQLite rolls the whole transaction back on a full
    disk, so undoing the savepoint then fails with 'no transaction is active'."""
    seen = 0
    while exc is not None and seen < 5:
        why = (explain_os_error(exc) if is_environment_failure(exc)
               else store.explain_disk_full(exc) or store.explain_unavailable(exc))
        if why:
            return why
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def poll(app: App, source: Source, *, stop: StopFlag | None = None,
         progress: Callable[[int, int], None] | None = None,
         on_batch: Callable[[], None] | None = None) -> PollSummary:
    """One intake cycle over `source` (already open), a batch (`mailbox.fetch_batch` mails) at
    a time. For each batch: parse the mails and render the forms of those that look like new
    complaints (`work_ahead`, no transaction); then one write transaction (group commit) with
    a savepoint per mail, so a mail that fails is undone alone and quarantined; after the
    commit, mark the batch done (move, or keyword) and call `on_batch` (the CLI sends the
    batch's acknowledgements there). The stored position moves after the marks and never
    passes a mail that was not marked, so the next poll sees that one again (and, finding it
    recorded, only retries the mark). Memory holds one batch."""
    summary = PollSummary()
    started = time.monotonic()
    s = app.settings
    # Files a crash left staged after their transaction committed go to their place first.
    app.archive.recover_staged(queries.archive_path_recorded)
    position = store.get_position(source.key, source.folder)
    uidvalidity, total, mails = source.fetch_new(position.uidvalidity, position.last_uid,
                                                 s.limits.max_message_bytes)
    last_uid = position.last_uid if uidvalidity == position.uidvalidity else 0
    blocked = False  # a mail before this point was not marked: hold the position
    pending: list[tuple[str, bool]] = []

    def settle() -> None:
        nonlocal last_uid, blocked
        failures = dict(source.mark_done_many(pending)) if pending else {}
        for uid, error in failures.items():
            summary.errors.append(f"UID {uid}: {error}")
            log.warning("could not move/mark UID %s: %s", uid, error)
        for uid, _ in pending:
            if uid in failures:
                blocked = True
            elif uid.isdigit() and not blocked:
                last_uid = max(last_uid, int(uid))
        pending.clear()
        store.save_position(source.key, source.folder, uidvalidity, last_uid, app.clock())

    def environment_failure(exc: BaseException, fetched: Fetched, before: int) -> None:
        why = _environment_reason(exc)
        if not why:
            return
        # Every following mail would fail the same way: mark what is done, stop. Earlier
        # batches were settled as they committed; writing the same position again would only
        # wait on (or fail against) the same busy or missing database.
        if pending:
            try:
                settle()
            except Exception as again:  # noqa: BLE001 - the position is only an optimisation
                log.error("could not record the poll position: %s", again)
        raise EnvironmentFailure(
            f"{why} (stopped at mail UID {fetched.uid}; {before} mail(s) of this poll were "
            "recorded before it)") from exc

    stopped = False
    for batch in _batches(mails, s.mailbox.fetch_batch):
        # The mail pipeline (parsing, the forms, the outbox) is loaded at the first mail: an
        # idle poll does not pay for it.
        from mailproc.intake.services import process_mail

        aheads = _work_ahead(app, batch)
        done: list[tuple[Fetched, Outcome | None]] = []  # in the batch's order; None: failed
        current = batch[0]
        try:
            with store.transaction():
                for fetched, ahead in zip(batch, aheads, strict=True):
                    if stop is not None and stop.stop:
                        stopped = True
                        break
                    current = fetched
                    try:
                        with store.savepoint():
                            outcome = process_mail(app, fetched, source_key=source.key,
                                                   ahead=ahead)
                    except Exception as exc:  # noqa: BLE001 - even quarantining failed
                        if _environment_reason(exc):
                            raise
                        log.error("mail UID %s left in place, retried next poll: %s",
                                  fetched.uid, exc)
                        summary.errors.append(f"UID {fetched.uid}: {type(exc).__name__}: {exc}")
                        done.append((fetched, None))
                        continue
                    done.append((fetched, outcome))
        except Exception as exc:  # noqa: BLE001 - the batch did not commit: nothing of it stays
            # Nothing of this batch stays (the transaction rolled back): count what committed.
            environment_failure(exc, current, summary.fetched)
            log.error("a batch of %d mail(s) was not recorded, retried next poll: %s",
                      len(batch), exc)
            summary.errors.append(f"UID {batch[0].uid}..{batch[-1].uid}: "
                                  f"{type(exc).__name__}: {exc}")
            summary.fetched += len(batch)
            blocked = True
            continue
        for fetched, outcome in done:
            summary.fetched += 1
            if outcome is None:
                # Left in place: the marks of the mails before it go out now, and the position
                # stops there so the next poll fetches it again.
                settle()
                blocked = True
                continue
            summary.outcomes[outcome.verdict] += 1
            if outcome.verdict in (Verdict.NEW_COMPLAINT, Verdict.FORWARDED_COMPLAINT):
                summary.registered.append(outcome.number)
            pending.append((fetched.uid, outcome.quarantined))
            if progress is not None:
                progress(summary.fetched, total)
        settle()
        if on_batch is not None:
            on_batch()
        memory.release()  # what the batch freed goes back: memory follows the batch, not N
        if stopped:
            break
    through = getattr(source, "done_through", 0)  # ImapSource: an empty search said so
    if total == 0 and through > last_uid:
        # Nothing new below UIDNEXT: the next idle poll answers from STATUS alone.
        store.save_position(source.key, source.folder, uidvalidity, through, app.clock())
    summary.seconds = time.monotonic() - started
    return summary
