"""The `schedule` loop of `mailproc run`: each job wrapped, one instance per database,
graceful stop on SIGTERM / SIGINT.

schedule re-runs a job that raised on every tick (it is never rescheduled) and would starve
the others, so every job is wrapped here and failures are logged, never raised.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import schedule

from mailproc import store
from mailproc.bootstrap import App
from mailproc.errors import AlreadyRunning, MailprocError
from mailproc.intake import polling
from mailproc.ptpp import reminders
from mailproc.reports import jobs as reportjobs
from mailproc.store import monitoring

log = logging.getLogger(__name__)


def run_job(name: str, job: Callable[[], Any]) -> bool:
    """Run `job`, log any failure, return whether it succeeded; never raises."""
    started = time.monotonic()
    try:
        job()
    except MailprocError as exc:
        log.error("%s failed: %s", name, exc)
        _after_database_failure(exc)
    except Exception as exc:  # noqa: BLE001 - a bug in one job must not stop the others
        why = store.explain_unavailable(exc)  # not a bug: the database is busy or gone
        if why is None:
            log.exception("%s failed unexpectedly", name)
        else:
            log.error("%s failed: %s", name, why)
        _after_database_failure(exc)
    else:
        log.debug("%s done in %.2fs", name, time.monotonic() - started)
        if _database_was_unavailable.is_set():
            _database_was_unavailable.clear()
            log.info("the database is reachable again: %s done", name)
        return True
    return False


_database_was_unavailable = threading.Event()  # a job failed on it; the next success says so


def _after_database_failure(exc: BaseException) -> None:
    """After PostgreSQL restarted, peewee still holds the dead connection and every later
    query would fail on it: close it, so the next job connects afresh (or, while the server
    is still down, fails again and says so)."""
    if store.explain_unavailable(exc):
        _database_was_unavailable.set()
    if store.connection_lost(exc):
        store.drop_connection()


def guarded(name: str, job: Callable[[], Any]) -> Callable[[], None]:
    """`job` for schedule: failures logged, always returns normally so schedule keeps its
    rhythm."""

    def run() -> None:
        run_job(name, job)

    run.__name__ = name
    return run


@contextmanager
def instance_lock(state_dir: os.PathLike[str] | str, database_url: str) -> Iterator[None]:
    """An exclusive lock per database so two schedulers never poll the same mailbox."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    path = os.path.join(state_dir, f"mailproc-run-{digest}.lock")
    os.makedirs(state_dir, exist_ok=True)
    fh = open(path, "a+")  # noqa: SIM115 - held for the life of the loop
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"another `mailproc run` uses this database (lock {path}); stop it first"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fh.close()


def jobs(app: App, poll_cycle: Callable[..., Any],
         flush: Callable[[App], Any], stop: polling.StopFlag
         ) -> list[tuple[str, float, Callable[[], Any]]]:
    """Every job of `mailproc run`: (name, every how many minutes, what it does). The loop
    schedules them; `run --once` runs each once, in this order."""
    return [
        ("poll", app.settings.poll_minutes, lambda: poll_cycle(app, stop)),
        ("outbox", 1, lambda: flush(app)),
        # Checked every 15 minutes rather than schedule's .at(): that needs pytz for the
        # company time zone. remind() acts from calendar.remind_at on working days, each
        # reminder at most once a day, so the repeats cost a query each.
        ("remind", 15, lambda: _remind(app, flush)),
        ("reports", 15, lambda: _reports(app, flush)),
    ]


def build_scheduler(app: App, poll_cycle: Callable[..., Any],
                    flush: Callable[[App], Any],
                    stop: polling.StopFlag) -> schedule.Scheduler:
    sched = schedule.Scheduler()
    for name, minutes, job in jobs(app, poll_cycle, flush, stop):
        sched.every(minutes).minutes.do(guarded(name, job))
    return sched


def _reports(app: App, flush: Callable[[App], Any]) -> None:
    """The daily digest from reports.digest_at on working days, the monthly recap on the
    first working day of the month; each once (the events remember)."""
    now = app.clock()
    local = now.astimezone(app.settings.timezone)
    if local.time() < app.settings.digest_at:
        return
    # Another instance on this database may be at the same step: one of them does it, and
    # the events it records keep it once a day (once a month for the recap).
    with store.try_exclusive("reports") as mine:
        if mine:
            _reports_now(app, flush, now, local)


def _reports_now(app: App, flush: Callable[[App], Any], now: datetime,
                 local: datetime) -> None:
    last = monitoring.last_event_at("digest_sent")
    sent_today = last is not None and last.astimezone(app.settings.timezone).date() == \
        local.date()
    if not sent_today:
        reportjobs.send_digest(app, now)
    due = reportjobs.recap_due(app, now)
    if due is not None:
        reportjobs.send_recap(app, *due, now)
    flush(app)


def _remind(app: App, flush: Callable[[App], Any]) -> None:
    now = app.clock()
    if now.astimezone(app.settings.timezone).time() < app.settings.calendar.remind_at:
        return
    # One instance reminds; the events it records keep each reminder once a day.
    with store.try_exclusive("remind") as mine:
        if not mine:
            return
        result = reminders.remind(app, now=now)
    if result.reminders or result.escalations or result.no_response:
        flush(app)


def run_forever(app: App, poll_cycle: Callable[..., Any],
                flush: Callable[[App], Any], *,
                max_loops: int | None = None) -> None:
    stop = polling.StopFlag()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: finishing the current mail, then stopping", signum)
        stop.stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with instance_lock(app.settings.state_dir, app.settings.database_url):
        sched = build_scheduler(app, poll_cycle, flush, stop)
        from mailproc.intake.idle import wait_until_set

        arrived = threading.Event()  # set by the IDLE watcher when new mail exists
        watcher = start_idle(app, arrived)
        log.info("mailproc running: polling every %s minute(s)%s", app.settings.poll_minutes,
                 ", and on new mail (IMAP IDLE)" if watcher is not None else "")
        guarded("poll", lambda: poll_cycle(app, stop))()  # at start, not after the first wait
        guarded("remind", lambda: _remind(app, flush))()
        loops = 0
        try:
            while not stop.stop:
                sched.run_pending()
                loops += 1
                if max_loops is not None and loops >= max_loops:
                    break
                # Wait in short steps so a signal is honoured within a second; new mail
                # (IDLE) ends the wait at once.
                idle = sched.idle_seconds
                if wait_until_set(arrived,
                                  max(0.0, min(1.0, idle if idle is not None else 1.0))):
                    arrived.clear()
                    guarded("poll", lambda: poll_cycle(app, stop))()
        finally:
            if watcher is not None:
                watcher.stop()
    log.info("mailproc stopped")


def start_idle(app: App, arrived: threading.Event) -> Any:
    """The IMAP IDLE watcher (intake.idle), when the mailbox is IMAP and schedule.idle is
    on; None otherwise."""
    s = app.settings
    if s.mailbox.kind != "imap" or not s.idle:
        return None
    from mailproc import oauth
    from mailproc.intake.idle import IdleWatcher

    watcher = IdleWatcher(s.mailbox, oauth.token_source(s, "mailbox"), arrived,
                          idle_seconds=s.idle_minutes * 60)
    watcher.start()
    return watcher


def run_once(app: App, poll_cycle: Callable[..., Any],
             flush: Callable[[App], Any]) -> list[str]:
    """One pass of every job the loop schedules, for cron (`mailproc run --once`): the poll,
    the outbox, the reminders (from calendar.remind_at on working days) and the digest and
    recap when due, with the same rules, under the same instance lock. Each job runs even if
    one before it failed; returns the names of those that failed (each logged)."""
    stop = polling.StopFlag()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: finishing the current mail, then stopping", signum)
        stop.stop = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    failed: list[str] = []
    try:
        with instance_lock(app.settings.state_dir, app.settings.database_url):
            for name, _minutes, job in jobs(app, poll_cycle, flush, stop):
                if stop.stop:
                    break
                if not run_job(name, job):  # the other jobs still run
                    failed.append(name)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return failed
