"""`mailproc complaints`: register, list, show and act on complaints. Lists and records come
from mailproc.store.readmodels as plain rows, changes through the services and the workflow;
this module formats them and never queries the database. The services, the workflow and the
read models are imported in the commands that use them: `--help` and `list` need none of the
mail and form machinery."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mailproc.cli.base import (
    Ctx,
    cli,
    emit_json,
    flush_outbox,
    iso,
    local_time,
    operator,
    pass_ctx,
)
from mailproc.domain import states
from mailproc.errors import NotFound

if TYPE_CHECKING:
    from mailproc.domain.forms import Action
    from mailproc.store import readmodels


@cli.group()
def complaints() -> None:
    """Register, list, show and act on complaints."""


def complaint_summary(c: readmodels.ComplaintRow) -> dict[str, Any]:
    """A complaint as `complaints list --json` gives it (and `show --json` begins)."""
    return {
        "number": c.number, "status": c.status, "channel": c.channel,
        "received_at": iso(c.received_at),
        "customer": c.customer_email, "customer_name": c.customer_name,
        "received_by": c.received_by or None,
        "category": c.category or None, "categories": list(c.categories),
        "severity": c.severity, "repeat_of": c.repeat_of or None,
        "satisfaction": c.satisfaction,
        "department": c.department or None, "subject": c.subject,
        "first_response_at": iso(c.first_response_at),
        "first_response_due_at": iso(c.first_response_due_at),
        "closed_at": iso(c.closed_at),
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
    from mailproc.store import readmodels

    obj.app()
    found = readmodels.complaint_list(status)
    if as_json:
        emit_json([complaint_summary(c) for c in found])
        return
    if not found:
        click.echo("no complaints")
        return
    s = obj.settings
    for c in found:
        click.echo(f"{c.number:<26} {local_time(s, c.received_at)}  {c.status:<11} "
                   f"{(c.department or '-'):<10} {c.customer_email or '-':<30} "
                   f"{c.subject[:50]}")


def _detail_json(d: readmodels.ComplaintDetail) -> dict[str, Any]:
    return complaint_summary(d.summary) | {
        "description": d.description, "return_requested": d.return_requested,
        "keyword_matches": d.keyword_matches,
        "fields": {"product": d.product, "batch": d.batch, "quantity": d.quantity,
                   "invoice": d.invoice, "delivery_note": d.delivery_note},
        "messages": [
            {"direction": m.direction, "kind": m.kind, "message_id": m.message_id,
             "from": m.from_addr, "to": m.to_addrs, "subject": m.subject,
             "at": iso(m.processed_at), "archive": m.archive_path or None,
             "reason": m.reason or None}
            for m in d.messages],
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size,
             "inline": a.inline, "status": a.status, "archive": a.archive_path or None}
            for a in d.attachments],
        "contact": d.contact or None, "rejected_reason": d.rejected_reason or None,
        "first_response_note": d.first_response_note or None,
        "send_analysis_to_customer": d.send_analysis_to_customer,
        "ptpps": [
            {"cycle": p.cycle, "number": p.number or None, "status": p.status,
             "department": p.department or None,
             "issued_at": iso(p.issued_at), "plan_due_at": iso(p.plan_due_at),
             "planned_at": iso(p.planned_at), "implemented_at": iso(p.implemented_at),
             "root_cause": p.root_cause or None,
             "actions": [{"no": a.no, "corrective": a.corrective, "pic": a.pic,
                          "target": _target(a)} for a in p.actions],
             "verification_result": p.verification_result or None,
             "verification_note": p.verification_note or None, "verifier": p.verifier or None,
             "verified_at": iso(p.verified_at), "closed_at": iso(p.closed_at)}
            for p in d.cycles],
        "documents": [
            {"form": doc.form, "cycle": doc.cycle, "origin": doc.origin,
             "filename": doc.filename, "archive": doc.archive_path, "size": doc.size,
             "sha256": doc.sha256, "at": iso(doc.created_at)}
            for doc in d.documents],
        "events": [
            {"at": iso(e.at), "actor": e.actor, "source": e.source, "kind": e.kind,
             "data": e.data}
            for e in d.events],
    }


def _target(a: Action) -> str | None:
    return a.target.isoformat() if a.target else a.target_raw or None


@complaints.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def complaints_show(obj: Ctx, number: str, as_json: bool) -> None:
    """Show one complaint: fields, messages, attachments, events.

    Example: mailproc complaints show 001/PTPP/MKT/XI/2026
    """
    from mailproc.store import readmodels

    obj.app()
    d = readmodels.complaint_detail(number)
    if d is None:
        raise NotFound(f"no complaint {number}; see `mailproc complaints list`")
    if as_json:
        emit_json(_detail_json(d))
        return
    s = obj.settings
    c = d.summary
    click.echo(f"{c.number}  [{c.status}: {states.LABELS_ID[c.status]}]")
    for label, value in (
        ("Diterima", local_time(s, c.received_at)), ("Pelanggan", c.customer_email),
        ("Diterima oleh", c.received_by or None), ("Saluran", c.channel),
        ("Kategori", ", ".join(c.categories) or "-"),
        ("Kategori PTPP", states.SEVERITY_LABELS[states.Severity(c.severity)]),
        ("Keluhan berulang", f"ya, seperti {c.repeat_of}" if c.repeat_of else None),
        ("Bagian", c.department or "-"),
        ("Produk", d.product), ("Batch/lot", d.batch), ("Jumlah", d.quantity),
        ("Faktur", d.invoice), ("Surat jalan", d.delivery_note),
        ("Tanggapan pertama", local_time(s, c.first_response_at)),
        ("Batas tanggapan", local_time(s, c.first_response_due_at)), ("Subjek", c.subject),
    ):
        if value:
            click.echo(f"  {label:<18}: {value}")
    click.echo("\nUraian:\n  " + d.description.strip().replace("\n", "\n  "))
    for p in d.cycles:
        click.echo(f"\nPTPP {p.number or d.summary.number} (siklus {p.cycle}): {p.status}, "
                   f"bagian {p.department or '-'}")
        for label, at in (("terbit", p.issued_at), ("batas analisis", p.plan_due_at),
                          ("analisis diterima", p.planned_at),
                          ("tindakan selesai", p.implemented_at),
                          ("diverifikasi", p.verified_at)):
            if at:
                click.echo(f"  {label:<18}: {local_time(s, at)}")
        for a in p.actions:
            click.echo(f"  tindakan {a.no}: {a.corrective} (PIC {a.pic or '-'}, "
                       f"target {_target(a) or '-'})")
        if p.verification_result:
            click.echo(f"  verifikasi        : {p.verification_result} — "
                       f"{p.verification_note or None} ({p.verifier or None})")
    click.echo("\nSurat:")
    for m in d.messages:
        arrow = "<-" if m.direction == "in" else "->"
        click.echo(f"  {arrow} {m.kind:<17} {m.from_addr or m.to_addrs}: {m.subject}")
    if d.documents:
        click.echo("\nDokumen:")
        for doc in d.documents:
            click.echo(f"  {doc.filename} ({doc.form}, siklus {doc.cycle}, {doc.origin})")
    if d.attachments:
        click.echo("\nLampiran:")
        for a in d.attachments:
            click.echo(f"  {a.filename} ({a.size} byte, {a.status})")
    click.echo("\nRiwayat:")
    for e in d.events:
        click.echo(f"  {local_time(s, e.at)}  {e.kind:<22} {e.actor}")


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
    from mailproc.intake import services
    from mailproc.store import readmodels

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
        description=description.strip(), received_by=received_by.strip() or operator(by),
        contact=contact.strip())
    c = services.register_manual(app, new, actor=operator(by), attachments=files)
    flushed = flush_outbox(app)
    row = readmodels.complaint_row(c.number)
    assert row is not None  # registered just now
    if as_json:
        emit_json(complaint_summary(row))
        return
    click.echo(f"registered {row.number} ({row.status}, department {row.department or '-'}); "
               f"first response due {local_time(obj.settings, row.first_response_due_at)}; "
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
    from mailproc.ptpp import workflow

    c = workflow.reject(obj.app(), number, reason=reason, actor=operator(by), source="cli")
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
    from mailproc.ptpp import workflow

    workflow.add_note(obj.app(), number, text=text, actor=operator(by), source="cli")
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
    from mailproc.ptpp import workflow

    c = workflow.record_response(obj.app(), number, text=text, actor=operator(by),
                                 source="cli")
    click.echo(f"{c.number}: response recorded (first response "
               f"{local_time(obj.settings, c.first_response_at)})")


@complaints.command("send-analysis")
@click.argument("number")
@click.option("--off", is_flag=True, help="The customer no longer wants it.")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def complaints_send_analysis(obj: Ctx, number: str, off: bool, by: str | None) -> None:
    """Mark that the customer asked to receive the analysis and action plan.

    When the current cycle's plan has arrived already, it is mailed to the customer now;
    otherwise it goes with the plan when the department sends it.

    Example: mailproc complaints send-analysis 001/PTPP/MKT/XI/2026
    """
    from mailproc.ptpp import workflow

    app = obj.app()
    cycle = workflow.set_send_analysis(app, number, wanted=not off, actor=operator(by),
                                       source="cli")
    if off:
        click.echo(f"{number}: the customer will not receive the analysis")
        return
    if cycle is None:
        click.echo(f"{number}: the customer will receive the analysis and plan when the "
                   "department sends it")
        return
    flushed = flush_outbox(app)
    click.echo(f"{number}: the analysis and plan of cycle {cycle} sent to the customer "
               f"(outbox: sent {flushed.sent}, deferred {flushed.deferred})")


@complaints.command("send-return-form")
@click.argument("number")
@click.option("--by", default=None, help="Operator for the audit trail (default: OS user).")
@pass_ctx
def complaints_send_return_form(obj: Ctx, number: str, by: str | None) -> None:
    """Send the return-claim form BKI.FM.MKT.06 to the customer of a complaint.

    Example: mailproc complaints send-return-form 001/PTPP/MKT/XI/2026
    """
    from mailproc.ptpp import workflow

    app = obj.app()
    doc, email = workflow.return_form_on_request(app, number, actor=operator(by), source="cli")
    flush_outbox(app)
    click.echo(f"{doc.filename} sent to {email}")
