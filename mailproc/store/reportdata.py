"""Complaints and their cycles as plain records for the reports: a few queries for any number
of complaints (the recap and the register export run over tens of thousands)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

import peewee as pw

from mailproc import store
from mailproc.config import Settings
from mailproc.domain import forms, states
from mailproc.domain.records import ComplaintRecord, CycleRecord
from mailproc.store import Complaint, Customer, Ptpp, utcnow_naive


def _cycle(p: Ptpp, department: str) -> CycleRecord:
    plan = json.loads(p.plan or "{}")
    return CycleRecord(
        cycle=p.cycle, department=department,
        issued_at=store.aware(p.issued_at), plan_due_at=store.aware(p.plan_due_at),
        planned_at=store.aware(p.planned_at), implemented_at=store.aware(p.implemented_at),
        correction=plan.get("correction", ""),
        whys=tuple(plan[f"why_{i}"] for i in range(1, 6) if plan.get(f"why_{i}", "").strip()),
        category_6m=plan.get("category_6m", ""),
        root_cause=p.root_cause or plan.get("root_cause", ""),
        actions=forms.actions_from(plan),
        completion_date=forms.parse_date(plan.get("completion_date", "")),
        completion_evidence=plan.get("completion_evidence", ""),
        verification_result=p.verification_result, verification_note=p.verification_note,
        verifier=p.verifier, verified_at=store.aware(p.verified_at),
        closed_at=store.aware(p.closed_at))


def load_records(settings: Settings, *, received_from: datetime | None = None,
                 received_to: datetime | None = None, numbers: list[str] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> list[ComplaintRecord]:
    """Every complaint received in [received_from, received_to) (or the given numbers), oldest
    first, with its cycles."""
    s = settings
    labels = {rule.name: rule.label for rule in s.routing.categories}
    deps = {key: dep.name for key, dep in s.departments.items()}
    query = (Complaint.select(Complaint, Customer).join(Customer, pw.JOIN.LEFT_OUTER)
             .order_by(Complaint.received_at, Complaint.id))
    if received_from is not None:
        query = query.where(Complaint.received_at >= utcnow_naive(received_from))
    if received_to is not None:
        query = query.where(Complaint.received_at < utcnow_naive(received_to))
    if numbers is not None:
        query = query.where(Complaint.number.in_(numbers))
    complaints = list(query)
    ids = [c.id for c in complaints]
    cycles: dict[int, list[Ptpp]] = defaultdict(list)
    claims: dict[int, str] = {}
    for chunk in range(0, len(ids), 900):  # SQLite's limit on bound parameters
        part = ids[chunk:chunk + 900]
        for p in Ptpp.select().where(Ptpp.complaint.in_(part)).order_by(Ptpp.cycle):
            cycles[p.complaint_id].append(p)
        for sub in (store.FormSubmission.select()
                    .where(store.FormSubmission.complaint.in_(part),
                           store.FormSubmission.form == "retur",
                           store.FormSubmission.accepted == True)):  # noqa: E712
            values = json.loads(sub.values)
            claims[sub.complaint_id] = values.get("claim_number", "") or "diterima"
    records = []
    total = len(complaints)
    for i, c in enumerate(complaints, start=1):
        customer = c.customer if c.customer_id else None
        records.append(ComplaintRecord(
            number=c.number, year=c.year, seq=c.seq,
            received_at=store.aware(c.received_at),  # type: ignore[arg-type]
            channel=c.channel,
            customer=(customer.name or customer.email or "") if customer else "",
            customer_email=(customer.email or "") if customer else "",
            subject=c.subject, description=c.description, product=c.product, batch=c.batch,
            quantity=c.quantity, category=labels.get(c.category, ""),
            department=deps.get(c.department, c.department), status=c.status,
            valid=c.status != states.REJECTED,
            first_response_at=store.aware(c.first_response_at),
            first_response_due_at=store.aware(c.first_response_due_at),
            closed_at=store.aware(c.closed_at) if c.status == states.CLOSED else None,
            return_requested=c.return_requested, return_claim=claims.get(c.id, ""),
            remarks=c.rejected_reason,
            cycles=tuple(_cycle(p, deps.get(p.department, p.department))
                         for p in cycles.get(c.id, []))))
        if progress is not None and (i % 1000 == 0 or i == total):
            progress(i, total)
    return records
