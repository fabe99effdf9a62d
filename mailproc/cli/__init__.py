"""Thin click commands over the services; errors become exit codes only here.

Exit codes: 0 ok, 1 error, 2 configuration error, 3 not found, 4 another instance runs.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from mailproc import logsetup, oauth, resources, store
from mailproc.bootstrap import App, Clock, build_app, system_clock
from mailproc.config import Settings, config_path_from, load_settings, starter_config
from mailproc.domain import forms, states
from mailproc.errors import MailprocError, NotFound, explain_os_error
from mailproc.forms import catalogue
from mailproc.intake import services
from mailproc.intake.mailbox import open_source, prepare_maildir
from mailproc.outgoing import outbox as outbox_mod
from mailproc.outgoing import transports
from mailproc.ptpp import reminders, workflow
from mailproc.reports import jobs as reportjobs

log = logging.getLogger("mailproc")


class Ctx:
    """What every command shares. `clock` is the composition root's clock: the system clock,
    or one a caller passes in (`CliRunner().invoke(cli, args, obj=Ctx(None, clock=...))`,
    how the tests run mailproc on a date of their choosing)."""

    def __init__(self, config: str | None, clock: Clock | None = None) -> None:
        self.config_arg = config
        self.clock: Clock = clock or system_clock
        self.debug = False
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(config_path_from(self.config_arg, os.environ))
            logsetup.configure(self._settings.log_format, self._settings.log_level)
        return self._settings

    def app(self, *, need_schema: bool = True) -> App:
        settings = self.settings
        store.open_database(settings.database_url, source=settings.source("database.url"))
        if need_schema:
            store.check_schema()
        return build_app(settings, clock=self.clock)


pass_ctx = click.make_pass_decorator(Ctx)


def debugging(ctx: click.Context | None = None) -> bool:
    """--debug, or MAILPROC_DEBUG=1: show tracebacks instead of one-line errors."""
    if os.environ.get("MAILPROC_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    obj = ctx.obj if ctx is not None else None
    return bool(getattr(obj, "debug", False))


def explain(exc: BaseException) -> str | None:
    """One line with what to do, for failures a user can cause outside mailproc's own checks
    (a full disk, a file mailproc may not read); None for a bug."""
    return explain_os_error(exc) or store.explain_disk_full(exc)


class MailprocGroup(click.Group):
    """Turns every error into one line that says what to do, and its exit code: MailprocError
    (exit_code), a full disk or a permission problem (1), anything else (1, "a bug": run
    with --debug for the traceback). --debug / MAILPROC_DEBUG=1 lets the traceback through."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MailprocError as exc:
            if debugging(ctx):
                raise
            click.echo(f"mailproc: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debugging(ctx):
                raise
            log.debug("unexpected error", exc_info=True)
            known = explain(exc)
            if known is None:
                known = (f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]}; "
                         "this is a bug in mailproc: run the command again with --debug and "
                         "report the traceback")
            click.echo(f"mailproc: error: {known}", err=True)
            ctx.exit(1)


@click.group(cls=MailprocGroup)
@click.option("--config", "config", metavar="PATH", envvar="MAILPROC_CONFIG",
              help="Configuration file (default config/mailproc.toml; env MAILPROC_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
@click.option("--debug", is_flag=True,
              help="Show the traceback of an error instead of one line (env MAILPROC_DEBUG=1).")
@click.version_option(package_name="mailproc")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool, debug: bool) -> None:
    """mailproc: the customer-complaint (PTPP) procedure, run by email."""
    # JSON from the start when the environment asks; [logging] applies once settings load.
    early = os.environ.get("MAILPROC_LOG_FORMAT", "").strip().lower()
    logsetup.configure(early if early in logsetup.FORMATS else "text",
                       logging.DEBUG if verbose else logging.INFO)
    given = ctx.obj if isinstance(ctx.obj, Ctx) else None
    ctx.obj = Ctx(config, clock=given.clock if given else None)
    ctx.obj.debug = debug


def _iso(value: datetime | None) -> str | None:
    value = store.aware(value)
    return value.isoformat() if value else None


def _local(settings: Settings, value: datetime | None) -> str:
    value = store.aware(value)
    return value.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M") if value else "-"


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


# ---- init / demo -------------------------------------------------------------------------

def _init(settings: Settings) -> int:
    for folder in (settings.archive_dir, settings.state_dir):
        folder.mkdir(parents=True, exist_ok=True)
    if settings.database_url.startswith("sqlite:///") and ":memory:" not in settings.database_url:
        Path(settings.database_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    store.open_database(settings.database_url, source=settings.source("database.url"))
    version = store.init_schema(on_applied=lambda m: click.echo(
        f"applied schema migration {m.number}: {m.name}"))
    if settings.mailbox.kind == "maildir":
        prepare_maildir(settings.mailbox)
    if settings.smtp.kind == "maildir" and settings.smtp.path:
        transports.MaildirTransport(settings.smtp.path).close()
    return version


@cli.command()
@click.option("--config", "config_file", metavar="PATH",
              help="The configuration file; a starter one is written there when it does not "
                   "exist (same as the global --config).")
@click.option("--data", "data_dir", metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="For a new configuration: the folder of the database, archive and state "
                   "(default: the configuration file's folder).")
@pass_ctx
def init(obj: Ctx, config_file: str | None, data_dir: Path | None) -> None:
    """Create or migrate the database schema and the folders; safe to run again.

    When the configuration file does not exist yet, a starter one is written first (SQLite, a
    local Maildir inbox, outgoing mail into a Maildir, the packaged templates), with relative
    paths resolved against its folder or --data DIR; edit it, then run init again.

    Example: mailproc init --config /etc/mailproc/mailproc.toml --data /var/lib/mailproc
    """
    if config_file:
        obj.config_arg = config_file
    path = config_path_from(obj.config_arg, os.environ)
    if not path.exists():
        _write_starter_config(path, data_dir)
    elif data_dir is not None:
        raise click.UsageError(f"--data is for a new configuration; {path} exists already (its "
                         "paths.root says where its data lives)")
    version = _init(obj.settings)
    click.echo(f"database ready (schema version {version}); archive: {obj.settings.archive_dir}")


def _write_starter_config(path: Path, data_dir: Path | None) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = starter_config(resources.example_config().read_text(encoding="utf-8"),
                              data_dir.expanduser().resolve() if data_dir else None)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        return
    except OSError as exc:
        raise MailprocError(f"cannot write the configuration {path}: {exc.strerror}; choose "
                            "a folder you may write, or run as its owner") from None
    click.echo(f"wrote a starter configuration to {path}: set [company], [people], "
               "[departments], and [mailbox]/[smtp] (or MAILPROC_MAILBOX_URL / "
               "MAILPROC_SMTP_URL), then check it with `mailproc doctor`")


@cli.command()
@click.option("--examples", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None,
              help="Folder of .eml files seeded into the demo inbox (default: the sample "
                   "complaints mailproc ships).")
@click.option("--reset", is_flag=True,
              help="First delete the demo's database, var/ state, archive and Maildirs.")
@click.pass_context
def demo(ctx: click.Context, examples: Path | None, reset: bool) -> None:
    """Set up the embedded default and run one full cycle on the sample complaints.

    Uses config/mailproc.toml under the current folder, created from the example
    configuration when missing (SQLite, a Maildir inbox under var/, outgoing mail written to
    var/sent); works in a checkout and in any empty folder with mailproc installed.

    --reset deletes what the demo made (only the paths config/mailproc.toml names, and only
    for the demo set-up of a checkout) and runs it again from the start.

    Example: mailproc demo
    """
    obj: Ctx = ctx.obj
    if obj.config_arg is None:
        target = Path("config/mailproc.toml")
        if not target.exists():
            example = Path("config/mailproc.example.toml")
            if not example.exists():  # not a checkout: the example mailproc ships
                example.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(resources.example_config(), example)
            shutil.copyfile(example, target)
            click.echo(f"created {target} from {example}")
    settings = obj.settings
    if settings.mailbox.kind != "maildir":
        raise MailprocError("the demo seeds a local Maildir; point mailbox.url at maildir:PATH")
    if reset:
        from mailproc.ops import demo as demo_mod
        from mailproc.ops.scheduler import instance_lock

        demo_mod.reset_paths(settings)  # refuses before the lock creates anything
        with instance_lock(settings.state_dir, settings.database_url):
            if store.db.obj is not None:
                store.db.close()  # a connection held on the file about to be deleted
            for path in demo_mod.reset(settings):
                click.echo(f"removed {path}")
    _init(settings)
    marker = settings.state_dir / "demo-seeded"
    if not marker.exists():
        import mailbox as stdlib_mailbox

        assert settings.mailbox.path is not None
        box = stdlib_mailbox.Maildir(str(settings.mailbox.path), create=True)
        files = sorted((examples or resources.examples_dir()).glob("*.eml"))
        for eml in files:
            box.add(eml.read_bytes())
        marker.write_text("seeded\n")
        click.echo(f"seeded {len(files)} sample mails into {settings.mailbox.path}")
    ctx.invoke(poll)
    click.echo(f"\noutgoing mail written to: {settings.smtp.path}\n"
               "next: mailproc complaints list; mailproc complaints show NUMBER")


# ---- poll / run --------------------------------------------------------------------------

def _progress_printer() -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None  # quiet in logs and pipes

    def show(done: int, total: int) -> None:
        if total >= 20 and (done % 10 == 0 or done == total):
            click.echo(f"\r  {done}/{total} surat diproses", err=True, nl=done == total)
    return show


def run_poll_cycle(app: App, stop: services.StopFlag | None = None,
                   progress: Callable[[int, int], None] | None = None
                   ) -> tuple[services.PollSummary, outbox_mod.FlushResult]:
    with open_source(app.settings.mailbox, oauth.token_source(app.settings, "mailbox")) as source:
        summary = services.poll(app, source, stop=stop, progress=progress)
    flushed = flush_outbox(app)
    return summary, flushed


def flush_outbox(app: App) -> outbox_mod.FlushResult:
    transport = transports.make_transport(app.settings)
    try:
        return outbox_mod.flush(app.settings, app.archive, transport, app.clock(),
                                texts=app.texts)
    finally:
        transport.close()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_ctx
def poll(obj: Ctx, as_json: bool) -> None:
    """One cycle: fetch new mail, process it, send what is queued; prints a summary.

    Example: mailproc poll --json
    """
    app = obj.app()
    summary, flushed = run_poll_cycle(app, progress=None if as_json else _progress_printer())
    data = summary.as_dict() | {"sent": flushed.sent, "deferred": flushed.deferred,
                                "failed": flushed.failed}
    if as_json:
        _emit_json(data)
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
    run_forever(app, run_poll_cycle, flush_outbox)


# ---- backup ------------------------------------------------------------------------------

@cli.command("backup")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@pass_ctx
def backup_cmd(obj: Ctx, directory: Path, as_json: bool) -> None:
    """Back up the database, the archive and the configuration into DIR/<timestamp>/.

    SQLite: an online backup (safe while `mailproc run` works). PostgreSQL: pg_dump
    --format=custom when pg_dump is on PATH. Secrets (the environment file) are not copied.

    Example: mailproc backup /var/backups/mailproc
    """
    from mailproc.ops import backup as backup_mod

    def say(message: str) -> None:
        click.echo(f"  {message}", err=True)

    result = backup_mod.backup(obj.settings, directory,
                               progress=say if sys.stderr.isatty() else None)
    if as_json:
        _emit_json(result.as_dict())
        return
    click.echo(f"backup written to {result.folder}")
    for label, path in (("database", result.database), ("archive", result.archive),
                        ("config", result.config)):
        if path is not None:
            extra = f" ({result.files} files)" if label == "archive" else ""
            click.echo(f"  {label}: {path}{extra}")
    click.echo(f"  {result.bytes / 1e6:.1f} MB in all")


# ---- complaints --------------------------------------------------------------------------

@cli.group()
def complaints() -> None:
    """Register, list, show and act on complaints."""


def complaint_summary(c: store.Complaint) -> dict[str, Any]:
    return {
        "number": c.number, "status": c.status, "channel": c.channel,
        "received_at": _iso(c.received_at),
        "customer": c.customer.email if c.customer_id else None,
        "customer_name": c.customer.name if c.customer_id else None,
        "received_by": c.received_by or None,
        "category": c.category or None, "categories": json.loads(c.categories),
        "department": c.department or None, "subject": c.subject,
        "first_response_at": _iso(c.first_response_at),
        "first_response_due_at": _iso(c.first_response_due_at),
        "closed_at": _iso(c.closed_at),
    }


@complaints.command("list")
@click.option("--status", type=click.Choice(states.STATUSES + ("open",)),
              help="Only this status ('open' = every status before closed/rejected).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def complaints_list(obj: Ctx, status: str | None, as_json: bool) -> None:
    """List complaints, newest first.

    Example: mailproc complaints list --status triage
    """
    obj.app()
    q = store.Complaint.select().order_by(store.Complaint.received_at.desc(),
                                          store.Complaint.id.desc())
    if status == "open":
        q = q.where(store.Complaint.status.in_(sorted(states.OPEN_STATUSES)))
    elif status:
        q = q.where(store.Complaint.status == status)
    rows = [complaint_summary(c) for c in q]
    if as_json:
        _emit_json(rows)
        return
    if not rows:
        click.echo("no complaints")
        return
    s = obj.settings
    for c, row in zip(q, rows, strict=True):
        click.echo(f"{row['number']:<26} {_local(s, c.received_at)}  {row['status']:<11} "
                   f"{(row['department'] or '-'):<10} {row['customer'] or '-':<30} "
                   f"{row['subject'][:50]}")


@complaints.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def complaints_show(obj: Ctx, number: str, as_json: bool) -> None:
    """Show one complaint: fields, messages, attachments, events.

    Example: mailproc complaints show 001/PTPP/MKT/XI/2026
    """
    obj.app()
    c = store.complaint_by_number(number)
    if c is None:
        raise NotFound(f"no complaint {number}; see `mailproc complaints list`")
    data = complaint_summary(c) | {
        "description": c.description, "return_requested": c.return_requested,
        "keyword_matches": json.loads(c.keyword_matches),
        "fields": {"product": c.product, "batch": c.batch, "quantity": c.quantity,
                   "invoice": c.invoice, "delivery_note": c.delivery_note},
        "messages": [
            {"direction": m.direction, "kind": m.kind, "message_id": m.message_id,
             "from": m.from_addr, "to": m.to_addrs, "subject": m.subject,
             "at": _iso(m.processed_at), "archive": m.archive_path or None,
             "reason": m.reason or None}
            for m in c.messages.order_by(store.Message.id)],
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size,
             "inline": a.inline, "status": a.status, "archive": a.archive_path or None}
            for a in c.attachments.order_by(store.Attachment.id)],
        "contact": c.contact or None, "rejected_reason": c.rejected_reason or None,
        "first_response_note": c.first_response_note or None,
        "send_analysis_to_customer": c.send_analysis_to_customer,
        "ptpps": [
            {"cycle": p.cycle, "status": p.status, "department": p.department or None,
             "issued_at": _iso(p.issued_at), "plan_due_at": _iso(p.plan_due_at),
             "planned_at": _iso(p.planned_at), "implemented_at": _iso(p.implemented_at),
             "root_cause": p.root_cause or None,
             "actions": [{"no": a.no, "corrective": a.corrective, "pic": a.pic,
                          "target": a.target.isoformat() if a.target else a.target_raw or None}
                         for a in forms.actions_from(json.loads(p.plan or "{}"))],
             "verification_result": p.verification_result or None,
             "verification_note": p.verification_note or None, "verifier": p.verifier or None,
             "verified_at": _iso(p.verified_at), "closed_at": _iso(p.closed_at)}
            for p in c.ptpps.order_by(store.Ptpp.cycle)],
        "documents": [
            {"form": d.form, "cycle": d.cycle, "origin": d.origin, "filename": d.filename,
             "archive": d.archive_path, "size": d.size, "at": _iso(d.created_at)}
            for d in c.documents.order_by(store.Document.id)],
        "events": [
            {"at": _iso(e.at), "actor": e.actor, "source": e.source, "kind": e.kind,
             "data": json.loads(e.data)}
            for e in c.events.order_by(store.Event.id)],
    }
    if as_json:
        _emit_json(data)
        return
    s = obj.settings
    click.echo(f"{c.number}  [{c.status}: {states.LABELS_ID[c.status]}]")
    for label, value in (
        ("Diterima", _local(s, c.received_at)), ("Pelanggan", data["customer"]),
        ("Diterima oleh", data["received_by"]), ("Saluran", c.channel),
        ("Kategori", ", ".join(data["categories"]) or "-"), ("Bagian", c.department or "-"),
        ("Produk", c.product), ("Batch/lot", c.batch), ("Jumlah", c.quantity),
        ("Faktur", c.invoice), ("Surat jalan", c.delivery_note),
        ("Tanggapan pertama", _local(s, c.first_response_at)),
        ("Batas tanggapan", _local(s, c.first_response_due_at)), ("Subjek", c.subject),
    ):
        if value:
            click.echo(f"  {label:<18}: {value}")
    click.echo("\nUraian:\n  " + c.description.strip().replace("\n", "\n  "))
    for p in data["ptpps"]:
        click.echo(f"\nPTPP siklus {p['cycle']}: {p['status']}, bagian {p['department'] or '-'}")
        for label, key in (("terbit", "issued_at"), ("batas analisis", "plan_due_at"),
                           ("analisis diterima", "planned_at"),
                           ("tindakan selesai", "implemented_at"), ("diverifikasi", "verified_at")):
            if p[key]:
                click.echo(f"  {label:<18}: {_local(s, datetime.fromisoformat(p[key]))}")
        for a in p["actions"]:
            click.echo(f"  tindakan {a['no']}: {a['corrective']} (PIC {a['pic'] or '-'}, "
                       f"target {a['target'] or '-'})")
        if p["verification_result"]:
            click.echo(f"  verifikasi        : {p['verification_result']} — "
                       f"{p['verification_note']} ({p['verifier']})")
    click.echo("\nSurat:")
    for m in data["messages"]:
        arrow = "<-" if m["direction"] == "in" else "->"
        click.echo(f"  {arrow} {m['kind']:<17} {m['from'] or m['to']}: {m['subject']}")
    if data["documents"]:
        click.echo("\nDokumen:")
        for d in data["documents"]:
            click.echo(f"  {d['filename']} ({d['form']}, siklus {d['cycle']}, {d['origin']})")
    if data["attachments"]:
        click.echo("\nLampiran:")
        for a in data["attachments"]:
            click.echo(f"  {a['filename']} ({a['size']} byte, {a['status']})")
    click.echo("\nRiwayat:")
    for e, ev in zip(c.events.order_by(store.Event.id), data["events"], strict=True):
        click.echo(f"  {_local(s, e.at)}  {ev['kind']:<22} {ev['actor']}")


CHANNELS = ("langsung", "telepon", "surat", "whatsapp", "email")


@complaints.command("add")
@click.option("--channel", type=click.Choice(CHANNELS), required=True,
              help="How the complaint came: in person, phone, letter, WhatsApp, email.")
@click.option("--customer", required=True, help="The customer (company or person).")
@click.option("--contact", default="", help="Phone / WhatsApp number or email address.")
@click.option("--email", "email_addr", default="",
              help="The customer's email address (the acknowledgement goes there).")
@click.option("--subject", default="", help="A short subject (default: from the description).")
@click.option("--description", required=True, help="What the customer complained about.")
@click.option("--attachment", "attachments", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A photo or document handed in (repeatable).")
@click.option("--received-at", default=None,
              help="When it was received, e.g. '2026-11-25 14:30' (company time; default now).")
@click.option("--received-by", default="", help="The staff member who took it.")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@click.option("--json", "as_json", is_flag=True, help="Print the new complaint as JSON.")
@pass_ctx
def complaints_add(obj: Ctx, channel: str, customer: str, contact: str, email_addr: str,
                   subject: str, description: str, attachments: tuple[Path, ...],
                   received_at: str | None, received_by: str, by: str | None,
                   as_json: bool) -> None:
    """Register a complaint received in person, by phone, letter or WhatsApp.

    Example: mailproc complaints add --channel telepon --customer "CV Maju" --description "penyok"
    """
    app = obj.app()
    now = app.clock()
    tz = obj.settings.timezone
    when = now
    if received_at:
        try:
            parsed = datetime.fromisoformat(received_at)
        except ValueError:
            raise click.BadParameter("use e.g. '2026-11-25 14:30'",
                                     param_hint="--received-at") from None
        when = parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
        if when > now:
            raise click.BadParameter("is in the future", param_hint="--received-at")
    if not email_addr and "@" in contact:
        email_addr, contact = contact.strip(), ""
    limit = obj.settings.limits.max_attachment_bytes
    files = []
    for path in attachments:
        if path.stat().st_size > limit:
            raise click.BadParameter(f"{path} is larger than limits.max_attachment_bytes",
                                     param_hint="--attachment")
        files.append((path.name, path.read_bytes()))
    first_line = description.strip().splitlines()[0] if description.strip() else ""
    new = services.NewComplaint(
        channel=channel, received_at=when, customer_email=email_addr.strip().lower(),
        customer_name=customer.strip(), subject=subject.strip() or first_line[:80],
        description=description.strip(), received_by=received_by.strip() or _operator(by),
        contact=contact.strip())
    c = services.register_manual(app, new, actor=_operator(by), attachments=files)
    flushed = flush_outbox(app)
    if as_json:
        _emit_json(complaint_summary(store.complaint_by_number(c.number)))
        return
    c = store.complaint_by_number(c.number)
    click.echo(f"registered {c.number} ({c.status}, department {c.department or '-'}); "
               f"first response due {_local(obj.settings, c.first_response_due_at)}; "
               f"outbox: sent {flushed.sent}, deferred {flushed.deferred}")


@complaints.command("reject")
@click.argument("number")
@click.option("--reason", required=True, help="Why this is not a complaint.")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def complaints_reject(obj: Ctx, number: str, reason: str, by: str | None) -> None:
    """Reject as not a complaint (spam, misdirected), with a reason.

    Example: mailproc complaints reject 004/PTPP/MKT/XI/2026 --reason "penawaran iklan"
    """
    c = workflow.reject(obj.app(), number, reason=reason, actor=_operator(by), source="cli")
    click.echo(f"{c.number}: rejected")


@complaints.command("note")
@click.argument("number")
@click.argument("text")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def complaints_note(obj: Ctx, number: str, text: str, by: str | None) -> None:
    """Add a note to a complaint's record.

    Example: mailproc complaints note 001/PTPP/MKT/XI/2026 "pelanggan minta kunjungan"
    """
    workflow.add_note(obj.app(), number, text=text, actor=_operator(by), source="cli")
    click.echo(f"{number}: note added")


@complaints.command("respond")
@click.argument("number")
@click.argument("text")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def complaints_respond(obj: Ctx, number: str, text: str, by: str | None) -> None:
    """Record a response given to the customer by phone or in person.

    Example: mailproc complaints respond 006/PTPP/MKT/XI/2026 "ditelepon, barang diganti"
    """
    c = workflow.record_response(obj.app(), number, text=text, actor=_operator(by),
                                 source="cli")
    click.echo(f"{c.number}: response recorded (first response "
               f"{_local(obj.settings, c.first_response_at)})")


@complaints.command("send-analysis")
@click.argument("number")
@click.option("--off", is_flag=True, help="The customer no longer wants it.")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def complaints_send_analysis(obj: Ctx, number: str, off: bool, by: str | None) -> None:
    """Mark that the customer asked to receive the analysis and action plan.

    Example: mailproc complaints send-analysis 001/PTPP/MKT/XI/2026
    """
    workflow.set_send_analysis(obj.app(), number, wanted=not off, actor=_operator(by),
                               source="cli")
    click.echo(f"{number}: the customer {'will not' if off else 'will'} receive the analysis")


@complaints.command("send-return-form")
@click.argument("number")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def complaints_send_return_form(obj: Ctx, number: str, by: str | None) -> None:
    """Send the return-claim form BKI.FM.MKT.06 to the customer of a complaint.

    Example: mailproc complaints send-return-form 001/PTPP/MKT/XI/2026
    """
    app = obj.app()
    now = app.clock()
    c = store.complaint_by_number(number)
    if c is None:
        raise NotFound(f"no complaint {number}; see `mailproc complaints list`")
    rendered = workflow.render_return_form(app, c, now)
    with store.transaction():
        doc = workflow.send_return_form(app, c, now=now, actor=_operator(by), source="cli",
                                        rendered=rendered)
    flush_outbox(app)
    click.echo(f"{doc.filename} sent to {c.customer.email}")


# ---- ptpp --------------------------------------------------------------------------------

def _operator(by: str | None) -> str:
    return by or getpass.getuser()


@cli.group()
def ptpp() -> None:
    """Act on a complaint's PTPP."""


@ptpp.command("assign")
@click.argument("number")
@click.argument("department")
@click.option("--note", default="", help="Why (kept in the audit trail).")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def ptpp_assign(obj: Ctx, number: str, department: str, note: str, by: str | None) -> None:
    """Assign or reassign a complaint to a department and send it the PTPP form.

    DEPARTMENT is a key, name or alias from the configuration.

    Example: mailproc ptpp assign 004/PTPP/MKT/XI/2026 qc --by rina
    """
    app = obj.app()
    c = workflow.assign(app, number, department, actor=_operator(by), source="cli", note=note)
    flushed = flush_outbox(app)
    click.echo(f"{c.number}: assigned to {c.department}, PTPP form sent "
               f"(outbox: sent {flushed.sent}, deferred {flushed.deferred})")


# ---- audit -------------------------------------------------------------------------------

@cli.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def audit_verify(obj: Ctx, as_json: bool) -> None:
    """Check the hash chain of events; name the first event altered or removed. Exit 1 if so.

    Example: mailproc audit verify
    """
    obj.app()
    report = store.verify_chain()
    if as_json:
        _emit_json({"ok": not report.problem, "events": report.events,
                    "problem": report.problem or None, "event_id": report.event_id})
    elif report.problem:
        click.echo(f"audit trail BROKEN after checking {report.events} event(s): "
                   f"{report.problem}")
    else:
        click.echo(f"audit trail intact: {report.events} event(s)")
    if report.problem:
        raise click.exceptions.Exit(1)


@ptpp.command("verify")
@click.argument("number")
@click.option("--effective/--not-effective", default=None, required=True,
              help="The result of the effectiveness evaluation.")
@click.option("--note", required=True, help="The evaluation note (required).")
@click.option("--verifier", default="", help="Who verified (default: the operator).")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def ptpp_verify(obj: Ctx, number: str, effective: bool, note: str, verifier: str,
                by: str | None) -> None:
    """Record the effectiveness evaluation: close the PTPP, or start a new cycle.

    Example: mailproc ptpp verify 001/PTPP/MKT/XI/2026 --effective --note "tidak terulang 2 kirim"
    """
    app = obj.app()
    c = workflow.verify(app, number, effective=effective, note=note, actor=_operator(by),
                        source="cli", verifier=verifier)
    flushed = flush_outbox(app)
    cycle = c.ptpps.order_by(store.Ptpp.cycle.desc()).get().cycle
    what = "closed" if c.status == states.CLOSED else f"not effective: cycle {cycle} issued"
    click.echo(f"{c.number}: {what} (outbox: sent {flushed.sent}, deferred {flushed.deferred})")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was sent as JSON.")
@pass_ctx
def remind(obj: Ctx, as_json: bool) -> None:
    """Send today's reminders, escalations and first-response flags, then the outbox.

    Runs by itself each working day at calendar.remind_at under `mailproc run`; sends each at
    most once a day per complaint, so running it again is harmless.

    Example: mailproc remind
    """
    app = obj.app()
    result = reminders.remind(app)
    flushed = flush_outbox(app)
    if as_json:
        _emit_json(result.as_dict() | {"sent": flushed.sent})
        return
    if not result.working_day:
        click.echo("today is not a working day: no reminders")
        return
    click.echo(f"reminders: {len(result.reminders)}, escalations: {len(result.escalations)}, "
               f"no first response: {len(result.no_response)}; sent {flushed.sent}")


# ---- reports -------------------------------------------------------------------------------

@cli.group()
def report() -> None:
    """Reports for marketing: the status digest and the monthly recap."""


@report.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def report_status(obj: Ctx, as_json: bool) -> None:
    """Print the status digest: open PTPPs by step, overdue, due soon, closed lately.

    Example: mailproc report status
    """
    app = obj.app()
    _, context = reportjobs.build_digest(app, app.clock())
    if as_json:
        _emit_json({k: v for k, v in context.items() if k != "company_name"})
        return
    click.echo(app.texts.render("digest", **context).body.rsplit("\nSalam,", 1)[0])


def _month(value: str) -> tuple[int, int]:
    try:
        parsed = datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise click.BadParameter("use YYYY-MM, e.g. 2026-11", param_hint="--month") from None
    return parsed.year, parsed.month


@report.command("recap")
@click.option("--month", "month", required=True, help="The month, YYYY-MM.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the .docx and .xlsx (default: paths.state/reports).")
@click.option("--email", "send", is_flag=True, help="Also mail it to sales & marketing.")
@pass_ctx
def report_recap(obj: Ctx, month: str, out: Path | None, send: bool) -> None:
    """Write the monthly Rekapitulasi Keluhan Pelanggan (.docx with charts, .xlsx).

    Example: mailproc report recap --month 2026-11 --out laporan/
    """
    app = obj.app()
    year, mon = _month(month)
    out = out or obj.settings.state_dir / "reports"
    out.mkdir(parents=True, exist_ok=True)
    fig, docx, xlsx = reportjobs.build_recap(app, year, mon, app.clock(),
                                             progress=_progress_printer())
    tag = f"{year:04d}-{mon:02d}"
    (out / f"Rekapitulasi-Keluhan-{tag}.docx").write_bytes(docx)
    (out / f"Register-Keluhan-{tag}.xlsx").write_bytes(xlsx)
    click.echo(f"{tag}: {fig.total} complaint(s), {fig.closed} closed, {fig.open} open; "
               f"written to {out}")
    if send:
        reportjobs.send_recap(app, year, mon, app.clock())
        flushed = flush_outbox(app)
        click.echo(f"mailed to sales & marketing (outbox: sent {flushed.sent})")


@cli.group()
def register() -> None:
    """The master register of complaints (daftar induk keluhan pelanggan)."""


@register.command("export")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx",
              show_default=True)
@click.option("--from", "date_from", default=None, help="Received on or after, YYYY-MM-DD.")
@click.option("--to", "date_to", default=None, help="Received on or before, YYYY-MM-DD.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file to write (default: register.<format> here).")
@pass_ctx
def register_export(obj: Ctx, fmt: str, date_from: str | None, date_to: str | None,
                    out: Path | None) -> None:
    """Export every complaint ever registered, one row each, with the register columns.

    Example: mailproc register export --format xlsx --from 2026-01-01 --out register.xlsx
    """
    app = obj.app()
    try:
        start = date.fromisoformat(date_from) if date_from else None
        end = date.fromisoformat(date_to) if date_to else None
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None
    data = reportjobs.export_register(app, fmt, received_from=start, received_to=end,
                                      progress=_progress_printer())
    out = out or Path(f"register.{fmt}")
    out.write_bytes(data)
    click.echo(f"written {out} ({len(data):,} bytes)")


# ---- templates ---------------------------------------------------------------------------

@cli.group()
def templates() -> None:
    """Check, list and export the templates: the Word forms and the mail texts."""


@templates.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that exist in FOLDER.")
def templates_export(folder: Path, force: bool) -> None:
    """Copy the templates mailproc ships (the four Word forms and the mail texts) into FOLDER,
    for a company to edit; then name FOLDER in paths.templates.

    Example: mailproc templates export /etc/mailproc/templates
    """
    source = resources.templates_dir()
    files = sorted(p for p in source.rglob("*")
                   if p.is_file() and p.suffix in (".docx", ".txt", ".html")
                   and "tools" not in p.relative_to(source).parts)
    existing = [folder / p.relative_to(source) for p in files
                if (folder / p.relative_to(source)).exists()]
    if existing and not force:
        raise MailprocError(f"{len(existing)} file(s) exist already in {folder} (e.g. "
                            f"{existing[0].name}); pass --force to overwrite them")
    for p in files:
        target = folder / p.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
    click.echo(f"copied {len(files)} template(s) to {folder}; to use them set\n"
               f"  [paths]\n  templates = \"{folder.resolve()}\"\n"
               "in the configuration, then run `mailproc templates check`")


@templates.command("check")
@click.argument("name", required=False, type=click.Choice(["ptpp", "retur", "email"]))
@pass_ctx
def templates_check(obj: Ctx, name: str | None) -> None:
    """Render the form templates and the mail texts with sample data; report missing required
    fields, controls without a tag, and variables a template uses but is never given.

    Example: mailproc templates check ptpp
    """
    from mailproc.ops import doctor

    problems: list[str] = []
    for key in [name] if name else ["ptpp", "retur", "email"]:
        if key == "email":
            template = obj.settings.templates_dir / "email"
            found = doctor.check_mail_texts(obj.settings.templates_dir)
        else:
            template = obj.settings.forms[key].template
            found = catalogue.check_template(template, key, strict=True)
        problems += found
        click.echo(f"{key}: {template}: " + ("ok" if not found else f"{len(found)} problem(s)"))
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    if problems:
        raise click.exceptions.Exit(1)


@templates.command("fields")
@click.argument("name", type=click.Choice(["ptpp", "retur"]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def templates_fields(obj: Ctx, name: str, as_json: bool) -> None:
    """List a form's fields: tag, type, label, and the steps that require it.

    Example: mailproc templates fields ptpp --json
    """
    present = dict(catalogue.template_fields(obj.settings.forms[name].template))
    rows = [{"name": f.name, "type": f.kind, "label": f.label,
             "required_for": sorted(f.required_for), "options": list(f.options),
             "in_template": f.name in present}
            for f in forms.FORMS[name]]
    if as_json:
        _emit_json(rows)
        return
    for r in rows:
        need = ", ".join(r["required_for"]) or "-"
        mark = "" if r["in_template"] else "  (MISSING from the template)"
        click.echo(f"{r['name']:<24} {r['type']:<9} {need:<18} {r['label']}{mark}")


# ---- doctor ------------------------------------------------------------------------------

@cli.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of {check, status, message}.")
@pass_ctx
def doctor(obj: Ctx, as_json: bool) -> None:
    """Check that this installation is ready: configuration, templates and mail texts,
    database, IMAP, SMTP, holiday data, archive. One line per check with what to fix; exit 1
    if any fails. Never processes, moves or sends mail.

    Example: mailproc doctor
    """
    from mailproc.ops import doctor as doctor_mod

    checks = doctor_mod.run(config_path_from(obj.config_arg, os.environ), os.environ,
                            clock=obj.clock)
    if as_json:
        _emit_json([c.as_dict() for c in checks])
    else:
        for line in doctor_mod.lines(checks):
            click.echo(line)
    if doctor_mod.failed(checks):
        raise click.exceptions.Exit(1)


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
    app = obj.app()
    q = store.OutgoingMail.select().order_by(store.OutgoingMail.id)
    if status:
        q = q.where(store.OutgoingMail.status == status)
    elif not show_all:
        q = q.where(store.OutgoingMail.status != "sent")
    stuck = {r.id for r in outbox_mod.stuck_rows(app.settings, app.clock())}
    rows = [{
        "id": r.id, "kind": r.kind, "status": r.status, "to": json.loads(r.to_addrs),
        "cc": json.loads(r.cc_addrs), "subject": r.subject, "attempts": r.attempts,
        "next_attempt_at": _iso(r.next_attempt_at), "last_error": r.last_error or None,
        "created_at": _iso(r.created_at), "sent_at": _iso(r.sent_at),
        "complaint": r.complaint.number if r.complaint_id else None,
        "message_id": r.message_id, "stuck": r.id in stuck,
    } for r in q]
    if as_json:
        _emit_json(rows)
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
    app = obj.app()
    row = outbox_mod.requeue(mail_id, app.clock(), _operator(by))
    click.echo(f"mail {row.id} queued again; it goes out with the next flush")


# ---- auth (OAuth2) -----------------------------------------------------------------------

@cli.group()
def auth() -> None:
    """OAuth2 sign-in for Microsoft 365 and Gmail / Google Workspace (XOAUTH2)."""


@auth.command("login")
@click.option("--provider", type=click.Choice(sorted(oauth.PROVIDERS)),
              help="Default: oauth.provider.")
@click.option("--client-id", metavar="ID", help="Default: oauth.client_id.")
@click.option("--tenant", metavar="T", help="Microsoft: directory (tenant) ID or domain.")
@click.option("--no-browser", is_flag=True, help="Google: print the address, open nothing.")
@click.option("--port", type=int, default=0, show_default=True,
              help="Google: loopback port of the redirect (0: any free port).")
@pass_ctx
def auth_login(obj: Ctx, provider: str | None, client_id: str | None, tenant: str | None,
               no_browser: bool, port: int) -> None:
    """Sign in once and store the token (mode 0600; oauth.token_file, default in the state
    folder). Microsoft: a code to enter at the address shown; Google: the browser.

    Example: mailproc auth login --provider microsoft --tenant contoh.co.id
    """
    token = oauth.login(obj.settings, provider=provider, client_id=client_id, tenant=tenant,
                        echo=click.echo, open_browser=not no_browser, port=port)
    cfg = obj.settings.oauth
    click.echo(f"signed in as {token.account or '?'} ({token.provider}); token stored in "
               f"{cfg.token_file}, access token valid until "
               f"{_local(obj.settings, token.expires_at)}, refreshed automatically")
    if (token.provider, token.client_id) != (cfg.provider, cfg.client_id):
        click.echo(f"note: set provider = \"{token.provider}\" and client_id = "
                   f"\"{token.client_id}\" in [oauth] of {obj.settings.config_path}, or the "
                   "token will not be used", err=True)


@auth.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_ctx
def auth_status(obj: Ctx, as_json: bool) -> None:
    """Which OAuth2 token is stored, for whom, until when (never the token itself).

    Example: mailproc auth status --json
    """
    info = oauth.status(obj.settings.oauth)
    if as_json:
        _emit_json(info)
        return
    settings = obj.settings
    expires = datetime.fromisoformat(info["expires_at"])
    left = ("expired (refreshed at the next use)" if info["expired"]
            else f"valid for {info['seconds_left'] // 60} min")
    click.echo(f"token file:    {info['token_file']} (mode {info['mode']})\n"
               f"provider:      {info['provider']} (client {info['client_id']})\n"
               f"account:       {info['account'] or '?'}\n"
               f"obtained:      {_local(settings, datetime.fromisoformat(info['obtained_at']))}\n"
               f"access token:  until {_local(settings, expires)}: {left}\n"
               f"refresh token: {'present' if info['refresh_token'] else 'none'}")
    if not info["matches_config"]:
        click.echo("warning: the token is for another provider or client than [oauth] names; "
                   "run `mailproc auth login` again", err=True)


def main() -> None:
    cli(prog_name="mailproc")
