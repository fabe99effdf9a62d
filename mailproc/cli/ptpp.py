"""`mailproc ptpp`: act on a complaint's PTPP (assign it to a department, record the
effectiveness verification). Calls mailproc.ptpp.workflow; reads through mailproc.store's read
models, never by querying; both imported in the commands, so `--help` does not load them."""

from __future__ import annotations

import click

from mailproc.cli.base import Ctx, cli, flush_outbox, operator, pass_ctx
from mailproc.domain import states


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
    from mailproc.ptpp import workflow

    app = obj.app()
    c = workflow.assign(app, number, department, actor=operator(by), source="cli", note=note)
    flushed = flush_outbox(app)
    click.echo(f"{c.number}: assigned to {c.department}, PTPP form sent "
               f"(outbox: sent {flushed.sent}, deferred {flushed.deferred})")


@ptpp.command("involve")
@click.argument("number")
@click.argument("department")
@click.option("--note", default="", help="What is asked of them (in the mail to them).")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def ptpp_involve(obj: Ctx, number: str, department: str, note: str, by: str | None) -> None:
    """Involve another department in the analysis (procedure step 6).

    It gets the current PTPP form and the customer's original mail, with the responsible
    department and marketing administration in copy; its replies are recorded on the complaint
    as staff messages. The responsible department still fills in and returns the form.

    Example: mailproc ptpp involve 004/PTPP/MKT/XI/2026 produksi --note "cek mesin 3"
    """
    from mailproc.ptpp import workflow

    app = obj.app()
    c = workflow.involve(app, number, department, actor=operator(by), source="cli", note=note)
    flushed = flush_outbox(app)
    dep = workflow.find_department(app.settings, department)
    click.echo(f"{c.number}: {dep.name} involved, form and thread sent "
               f"(outbox: sent {flushed.sent}, deferred {flushed.deferred})")


@ptpp.command("classify")
@click.argument("number")
@click.argument("severity", type=click.Choice(states.SEVERITIES, case_sensitive=False))
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def ptpp_classify(obj: Ctx, number: str, severity: str, by: str | None) -> None:
    """Set the PTPP category: mayor, minor or observasi.

    Each routing category gives a default (`severity` in its [[routing.categories]] block);
    this changes it for one complaint, in the register, the recap and every form rendered
    from now on. Not once the complaint is closed or rejected.

    Example: mailproc ptpp classify 004/PTPP/MKT/XI/2026 mayor --by rina
    """
    from mailproc.ptpp import workflow

    app = obj.app()
    c = workflow.classify(app, number, severity, actor=operator(by), source="cli")
    click.echo(f"{c.number}: PTPP category {states.SEVERITY_LABELS[states.Severity(c.severity)]}")


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
    from mailproc.ptpp import workflow
    from mailproc.store import readmodels

    app = obj.app()
    c = workflow.verify(app, number, effective=effective, note=note, actor=operator(by),
                        source="cli", verifier=verifier)
    flushed = flush_outbox(app)
    cycle = readmodels.latest_cycle(c.number)
    what = "closed" if c.status == states.CLOSED else f"not effective: cycle {cycle} issued"
    click.echo(f"{c.number}: {what} (outbox: sent {flushed.sent}, deferred {flushed.deferred})")
