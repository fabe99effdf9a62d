"""`mailproc report` and `mailproc register`: the status digest, the monthly recap and the
master register export, through mailproc.reports.jobs (imported in the commands: `--help` does
not load it). No database access of its own."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from mailproc.cli.base import Ctx, cli, emit_json, flush_outbox, pass_ctx, progress_printer


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
    from mailproc.reports import jobs as reportjobs

    app = obj.app()
    _, context = reportjobs.build_digest(app, app.clock())
    if as_json:
        emit_json({k: v for k, v in context.items() if k != "company_name"})
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
    from mailproc.reports import jobs as reportjobs

    app = obj.app()
    year, mon = _month(month)
    out = out or obj.settings.state_dir / "reports"
    out.mkdir(parents=True, exist_ok=True)
    fig, docx, xlsx = reportjobs.build_recap(app, year, mon, app.clock(),
                                             progress=progress_printer())
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
    from mailproc.reports import jobs as reportjobs

    app = obj.app()
    try:
        start = date.fromisoformat(date_from) if date_from else None
        end = date.fromisoformat(date_to) if date_to else None
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None
    data = reportjobs.export_register(app, fmt, received_from=start, received_to=end,
                                      progress=progress_printer())
    out = out or Path(f"register.{fmt}")
    out.write_bytes(data)
    click.echo(f"written {out} ({len(data):,} bytes)")
