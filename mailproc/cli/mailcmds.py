"""The mail commands: `poll`, `run`, `remind` and `mailproc outbox` (list, flush, retry).
Work goes through the services and the outbox; what `outbox list` shows comes from
mailproc.store.readmodels, never from a query here. The services, the outbox and the read
models are imported in the commands that use them: `--help` and the other commands need none
of the mail machinery."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from mailproc.cli.base import (
    Ctx,
    cli,
    emit_json,
    flush_outbox,
    iso,
    operator,
    pass_ctx,
    progress_printer,
)
from mailproc.errors import MailprocError

if TYPE_CHECKING:
    from mailproc.bootstrap import App
    from mailproc.intake import polling
    from mailproc.outgoing import outbox as outbox_mod


log = logging.getLogger(__name__)


def run_poll_cycle(app: App, stop: polling.StopFlag | None = None,
                   progress: Callable[[int, int], None] | None = None, *,
                   wait: bool = True) -> tuple[polling.PollSummary, outbox_mod.FlushResult]:
    """Poll, sending each batch's mail (acknowledgements first of all) as soon as the batch
    committed, over one transport for the whole cycle. One poll of the mailbox at a time per
    database (`store.exclusive("poll")`, which dies with its holder): with `wait` false (the
    run loop, where another instance may be the one polling) a busy mailbox is skipped."""
    from mailproc import store
    from mailproc.intake import polling
    from mailproc.outgoing import outbox as outbox_mod

    lock = store.exclusive("poll") if wait else store.try_exclusive("poll")
    with lock as held:
        if held is False:
            log.debug("another mailproc instance is polling this mailbox: skipped")
            return polling.PollSummary(), outbox_mod.FlushResult()
        return _poll_cycle(app, stop, progress)


def _poll_cycle(app: App, stop: polling.StopFlag | None,
                progress: Callable[[int, int], None] | None
                ) -> tuple[polling.PollSummary, outbox_mod.FlushResult]:
    from mailproc.intake import polling
    from mailproc.outgoing import outbox as outbox_mod

    transport = app.open_transport()
    flushed = outbox_mod.FlushResult()

    def send() -> None:
        done = outbox_mod.flush(app.settings, app.archive, transport, app.clock(),
                                texts=app.texts, sent_lookup=app.sent_lookup())
        flushed.sent += done.sent
        flushed.deferred += done.deferred
        flushed.failed += done.failed

    try:
        with app.open_source() as source:
            summary = polling.poll(app, source, stop=stop, progress=progress, on_batch=send)
        send()  # what the poll's last batch left, and mail queued before this cycle
    finally:
        transport.close()
    return summary, flushed


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_ctx
def poll(obj: Ctx, as_json: bool) -> None:
    """One cycle: fetch new mail, process it, send what is queued; prints a summary.

    Example: mailproc poll --json
    """
    app = obj.app()
    summary, flushed = run_poll_cycle(app, progress=None if as_json else progress_printer())
    data = summary.as_dict() | {"sent": flushed.sent, "deferred": flushed.deferred,
                                "failed": flushed.failed}
    if as_json:
        emit_json(data)
        return
    parts = ", ".join(f"{k}: {v}" for k, v in sorted(summary.outcomes.items())) or "nothing new"
    click.echo(f"fetched {summary.fetched} mail(s) ({parts}) in {summary.seconds:.2f}s")
    for number in summary.registered:
        click.echo(f"  registered {number}")
    click.echo(f"outbox: sent {flushed.sent}, deferred {flushed.deferred}, "
               f"failed {flushed.failed}")
    for err in summary.errors:
        click.echo(f"  warning: {err}", err=True)


@cli.command()
@click.option("--once", is_flag=True,
              help="Run every job once (poll, outbox, reminders, digest, recap) and exit: "
                   "for cron instead of the loop.")
@pass_ctx
def run(obj: Ctx, once: bool) -> None:
    """Run the scheduler: poll, send, remind, and the daily digest and monthly recap.

    Polls every schedule.poll_minutes and sends queued mail every minute; on working days the
    reminders from calendar.remind_at and the digest from reports.digest_at; the recap on the
    first working day of the month.

    SIGTERM or Ctrl-C finishes the mail in hand, then exits. One instance per database.

    --once does one pass of the same jobs with the same rules (each due thing sent once) and
    exits 1 if a job failed; run it from cron every few minutes (contrib/cron/mailproc.cron).

    Example: mailproc run
    """
    from mailproc.ops.scheduler import run_forever, run_once

    app = obj.app()
    if once:
        failed = run_once(app, run_poll_cycle, flush_outbox)
        if failed:
            raise MailprocError(f"failed: {', '.join(failed)} (see the log above)")
        return
    # Several instances (other machines, one database) may run: the loop skips a poll another
    # instance is making instead of waiting for it.
    run_forever(app, functools.partial(run_poll_cycle, wait=False), flush_outbox)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was sent as JSON.")
@pass_ctx
def remind(obj: Ctx, as_json: bool) -> None:
    """Send today's reminders, escalations and first-response flags, then the outbox.

    Runs by itself each working day at calendar.remind_at under `mailproc run`; sends each at
    most once a day per complaint, so running it again is harmless.

    Example: mailproc remind
    """
    from mailproc.ptpp import reminders

    app = obj.app()
    result = reminders.remind(app)
    flushed = flush_outbox(app)
    if as_json:
        emit_json(result.as_dict() | {"sent": flushed.sent})
        return
    if not result.working_day:
        click.echo("today is not a working day: no reminders")
        return
    click.echo(f"reminders: {len(result.reminders)}, escalations: {len(result.escalations)}, "
               f"no first response: {len(result.no_response)}, to marketing administration: "
               f"{len(result.marketing)}; sent {flushed.sent}")


# ---- outbox ------------------------------------------------------------------------------

@cli.group()
def outbox() -> None:
    """The queue of outgoing mail."""


@outbox.command("list")
@click.option("--status", type=click.Choice(["queued", "sending", "sent", "failed", "bounced"]),
              help="Only this status (default: everything not yet sent).")
@click.option("--all", "show_all", is_flag=True, help="Include sent mail.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def outbox_list(obj: Ctx, status: str | None, show_all: bool, as_json: bool) -> None:
    """List outgoing mail; by default what is not sent yet.

    Example: mailproc outbox list --all --json
    """
    from mailproc.outgoing import outbox as outbox_mod
    from mailproc.store import readmodels

    app = obj.app()
    stuck = {r.id for r in outbox_mod.stuck_rows(app.settings, app.clock())}
    rows = [{
        "id": r.id, "kind": r.kind, "status": r.status, "to": list(r.to), "cc": list(r.cc),
        "subject": r.subject, "attempts": r.attempts,
        "next_attempt_at": iso(r.next_attempt_at), "last_error": r.last_error or None,
        "created_at": iso(r.created_at), "sent_at": iso(r.sent_at),
        "complaint": r.complaint, "message_id": r.message_id, "stuck": r.id in stuck,
    } for r in readmodels.outgoing_list(status, include_sent=show_all)]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("outbox empty" if not show_all else "no outgoing mail")
        return
    for r in rows:
        note = "  STUCK: check whether it arrived, then `mailproc outbox retry`" \
            if r["stuck"] else (f"  ({r['last_error']})" if r["last_error"] else "")
        click.echo(f"{r['id']:>5} {r['status']:<8} {r['kind']:<18} {', '.join(r['to'])[:40]:<40}"
                   f" {r['subject'][:60]}{note}")


@outbox.command("flush")
@pass_ctx
def outbox_flush(obj: Ctx) -> None:
    """Send every queued mail that is due now.

    Example: mailproc outbox flush
    """
    app = obj.app()
    result = flush_outbox(app)
    click.echo(f"sent {result.sent}, deferred {result.deferred}, failed {result.failed}")
    if result.deferred or result.failed:
        raise click.exceptions.Exit(1)


@outbox.command("retry")
@click.argument("mail_id", type=int)
@click.option("--by", default=None, help="Operator name for the audit trail (default: OS user).")
@pass_ctx
def outbox_retry(obj: Ctx, mail_id: int, by: str | None) -> None:
    """Queue a failed or stuck outgoing mail again.

    Example: mailproc outbox retry 42
    """
    from mailproc.outgoing import outbox as outbox_mod

    app = obj.app()
    row = outbox_mod.requeue(mail_id, app.clock(), operator(by))
    click.echo(f"mail {row.id} queued again; it goes out with the next flush")
