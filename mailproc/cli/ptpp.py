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


@cli.group()
def retur() -> None:
    """The return claim after the customer's claim form: inspection, decision, settlement."""


def _retur_step(obj: Ctx, number: str, step: str, by: str | None, **kw: object) -> None:
    from mailproc.domain import returns
    from mailproc.ptpp import workflow

    app = obj.app()
    c = workflow.return_step(app, number, step, actor=operator(by), source="cli", **kw)
    flushed = flush_outbox(app)
    state = returns.ReturnState.from_json(c.return_state)
    click.echo(f"{c.number}: return claim "
               f"{returns.register_text('', True, state).removeprefix('Y, ')} "
               f"(outbox: sent {flushed.sent}, deferred {flushed.deferred})")


@retur.command("inspect")
@click.argument("number")
@click.argument("result")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def retur_inspect(obj: Ctx, number: str, result: str, by: str | None) -> None:
    """Record what QC / the warehouse found when inspecting the returned goods.

    Example: mailproc retur inspect 001/PTPP/MKT/XI/2026 "15 botol retak di leher, cacat produksi"
    """
    _retur_step(obj, number, "inspect", by, result=result)


@retur.command("approve")
@click.argument("number")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def retur_approve(obj: Ctx, number: str, by: str | None) -> None:
    """Approve the claim (after the inspection); the customer is told.

    Example: mailproc retur approve 001/PTPP/MKT/XI/2026
    """
    _retur_step(obj, number, "decide", by, approved=True)


@retur.command("reject")
@click.argument("number")
@click.option("--reason", required=True, help="Why (told to the customer).")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def retur_reject(obj: Ctx, number: str, reason: str, by: str | None) -> None:
    """Reject the claim with the reason (after the inspection); the customer is told.

    Example: mailproc retur reject 001/PTPP/MKT/XI/2026 --reason "pecah saat bongkar muat"
    """
    _retur_step(obj, number, "decide", by, approved=False, reason=reason)


@retur.command("settle")
@click.argument("number")
@click.argument("kind", type=click.Choice(
    ["ganti-barang", "nota-kredit", "potong-tagihan", "refund", "klaim-ekspedisi"]))
@click.option("--reference", default="", help="The credit note, refund … number.")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def retur_settle(obj: Ctx, number: str, kind: str, reference: str, by: str | None) -> None:
    """Record how an approved claim was settled; the customer is told.

    Example: mailproc retur settle 001/PTPP/MKT/XI/2026 nota-kredit --reference NK-2612-004
    """
    _retur_step(obj, number, "settle", by, kind=kind, reference=reference)
