"""`mailproc records purge` and `mailproc customer export / erase`: records kept as the law
asks (procedure step 11; UU 27/2022). Thin wrappers over `mailproc.ops.records`, imported in
the commands: `--help` loads none of it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from mailproc.cli.base import Ctx, cli, emit_json, operator, pass_ctx, progress_printer


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"


@cli.group()
def records() -> None:
    """Records kept as the law asks: the retention period of raw mail."""


@records.command("purge")
@click.option("--before", "before", required=True, metavar="DATE",
              type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Complaints closed or rejected before this day (YYYY-MM-DD, company time); "
                   "at least records.retention_years ago.")
@click.option("--dry-run", is_flag=True, help="List what would be removed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def records_purge(obj: Ctx, before: datetime, dry_run: bool, as_json: bool,
                  by: str | None) -> None:
    """Remove the raw mail (.eml) and attachments of complaints closed or rejected before
    DATE, once past the retention period (records.retention_years; a later DATE is refused).

    Kept: the register row and the PTPP cycles, the forms and reports (and the forms received
    back filled), the messages' headers, and the audit chain: a `records_purged` event per
    complaint names every file removed with its sha256, so `mailproc audit verify` still
    passes. Run with --dry-run first.

    Example: mailproc records purge --before 2021-01-01 --dry-run
    """
    from mailproc.ops import records as ops

    app = obj.app()
    report = ops.purge(app, before.date(), dry_run=dry_run, actor=operator(by),
                       progress=None if as_json else progress_printer("keluhan diperiksa"))
    if as_json:
        emit_json({
            "dry_run": report.dry_run, "before": report.before.isoformat(),
            "latest_allowed": report.latest_allowed.isoformat(),
            "retention_years": report.retention_years, "files": report.files,
            "bytes": report.size, "finished_from_earlier": report.finished,
            "complaints": [{"number": c.number, "status": c.status,
                            "closed_at": c.closed_at.isoformat(),
                            "files": [{"path": f.path, "sha256": f.sha256, "size": f.size}
                                      for f in c.files]}
                           for c in report.complaints]})
        return
    tz = obj.settings.timezone
    verb = "would remove" if report.dry_run else "removed"
    for c in report.complaints:
        click.echo(f"{c.number:<26} {c.status:<8} closed "
                   f"{c.closed_at.astimezone(tz):%Y-%m-%d}  {len(c.files)} file(s), "
                   f"{_megabytes(c.size)}")
    click.echo(f"{verb} {report.files} file(s), {_megabytes(report.size)}, of "
               f"{len(report.complaints)} complaint(s) closed before "
               f"{report.before.isoformat()} (retention {report.retention_years} years; "
               f"latest date allowed today: {report.latest_allowed.isoformat()})")
    if report.finished:
        click.echo(f"also removed {report.finished} file(s) an interrupted purge had left")
    if report.dry_run:
        click.echo("nothing changed (--dry-run)")
    elif report.complaints:
        click.echo("kept: the register rows, the forms and reports, and the audit chain "
                   "(a records_purged event per complaint)")


@cli.group()
def customer() -> None:
    """One customer's personal data: export it, or erase it (UU 27/2022)."""


@customer.command("export")
@click.argument("address")
@click.option("--output", "output", metavar="FILE", type=click.Path(path_type=Path),
              help="The zip to write (default: data-pelanggan-….zip here); never overwritten.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def customer_export(obj: Ctx, address: str, output: Path | None, as_json: bool,
                    by: str | None) -> None:
    """Write one customer's data as a zip: data.json (the customer, their complaints with
    cycles, documents, messages and events, the mail sent to them) and the archived files of
    their complaints that still exist (raw mail, attachments, forms).

    Example: mailproc customer export budi@pelanggan.co.id --output budi.zip
    """
    from mailproc.ops import records as ops

    report = ops.export_customer(obj.app(), address, output, actor=operator(by))
    if as_json:
        emit_json({"path": str(report.path), "complaints": list(report.complaints),
                   "files": report.files, "no_longer_kept": list(report.missing),
                   "sha256": report.sha256})
        return
    click.echo(f"wrote {report.path}: {len(report.complaints)} complaint(s), "
               f"{report.files} archived file(s); sha256 {report.sha256}")
    if report.missing:
        click.echo(f"{len(report.missing)} file(s) no longer kept (purged or erased) are "
                   "listed in data.json")


@customer.command("erase")
@click.argument("address")
@click.option("--force", is_flag=True,
              help="Erase even while a complaint of the customer is still open.")
@click.option("--also", multiple=True, metavar="TEXT",
              help="More that identifies the customer in text but is not in their record: "
                   "their company as they sign, a telephone number (repeatable).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def customer_erase(obj: Ctx, address: str, force: bool, also: tuple[str, ...], yes: bool,
                   as_json: bool, by: str | None) -> None:
    """Replace a customer's personal data (name, organisation, address, telephone) with a
    pseudonym everywhere mailproc stores it, and remove the raw mail and attachments of their
    complaints. The PTPP's technical content and the register rows stay; the forms already
    issued are kept as they are (they still show the name). Refused while a complaint of
    theirs is open, unless --force. This cannot be undone: export first if they asked for it.

    Example: mailproc customer erase budi@pelanggan.co.id --also "CV Mitra Pangan"
    """
    from mailproc.ops import records as ops

    if not yes:
        click.confirm(f"Erase the personal data of {address}? This cannot be undone",
                      abort=True, err=True)
    r = ops.erase_customer(obj.app(), address, force=force, actor=operator(by), also=also)
    data: dict[str, Any] = {
        "pseudonym": r.pseudonym, "complaints": list(r.complaints),
        "open_complaints": list(r.open_complaints), "files_removed": r.files_removed,
        "rows": r.rows, "events_redacted": r.events_redacted,
        "documents_kept": r.documents_kept}
    if as_json:
        emit_json(data)
        return
    click.echo(f"customer erased: now shown as {r.pseudonym}; {len(r.complaints)} "
               f"complaint(s), {r.files_removed} raw file(s) removed, "
               f"{sum(r.rows.values())} row(s) and {r.events_redacted} audit event(s) "
               "rewritten")
    if r.documents_kept:
        click.echo(f"note: {r.documents_kept} form(s) and report(s) already issued are kept "
                   "as records and still show the customer's name")
