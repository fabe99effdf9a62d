"""Complaints and their cycles as plain records for the reports: three queries for any number
of complaints (the recap and the register export run over tens of thousands).

The rows are read as plain tuples straight from the database cursor, not as peewee model
instances: building a model instance per row and converting each column through its field
(SQLite datetimes parsed with strptime) cost more than everything the recap does with them.
Datetimes are converted once with `store.aware` (stored naive UTC, or the string SQLite hands
back, to aware UTC), booleans with `bool`, exactly as the fields would.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import peewee as pw

from mailproc import store
from mailproc.config import Settings
from mailproc.domain import forms, states
from mailproc.domain.records import CLAIM_WITHOUT_NUMBER, ComplaintRecord, CycleRecord
from mailproc.store import Complaint, Customer, FormSubmission, Ptpp, utcnow_naive

_aware = store.aware

_COMPLAINT = (
    Complaint.id, Complaint.number, Complaint.year, Complaint.seq, Complaint.received_at,
    Complaint.channel, Complaint.customer, Customer.name, Customer.email, Complaint.subject,
    Complaint.description, Complaint.product, Complaint.batch, Complaint.quantity,
    Complaint.category, Complaint.department, Complaint.status, Complaint.first_response_at,
    Complaint.first_response_due_at, Complaint.closed_at, Complaint.return_requested,
    Complaint.rejected_reason, Complaint.severity, Complaint.satisfaction,
    Complaint.return_state, Complaint.repeat_of,
)
_CYCLE = (
    Ptpp.complaint, Ptpp.cycle, Ptpp.department, Ptpp.issued_at, Ptpp.plan_due_at,
    Ptpp.planned_at, Ptpp.implemented_at, Ptpp.plan, Ptpp.root_cause, Ptpp.verification_result,
    Ptpp.verification_note, Ptpp.verifier, Ptpp.verified_at, Ptpp.closed_at,
)


def _cycle(row: tuple[Any, ...], department: str) -> CycleRecord:
    (_, cycle, _, issued_at, plan_due_at, planned_at, implemented_at, plan_text, root_cause,
     verification_result, verification_note, verifier, verified_at, closed_at) = row
    plan = json.loads(plan_text or "{}")
    return CycleRecord(
        cycle=cycle, department=department,
        issued_at=_aware(issued_at), plan_due_at=_aware(plan_due_at),
        planned_at=_aware(planned_at), implemented_at=_aware(implemented_at),
        correction=plan.get("correction", ""),
        whys=tuple(plan[f"why_{i}"] for i in range(1, 6) if plan.get(f"why_{i}", "").strip()),
        category_6m=plan.get("category_6m", ""),
        root_cause=root_cause or plan.get("root_cause", ""),
        actions=forms.actions_from(plan),
        completion_date=forms.parse_date(plan.get("completion_date", "")),
        completion_evidence=plan.get("completion_evidence", ""),
        verification_result=verification_result, verification_note=verification_note,
        verifier=verifier, verified_at=_aware(verified_at),
        closed_at=_aware(closed_at),
        correction_date=forms.parse_date(plan.get("correction_date", "")),
        correction_by=plan.get("correction_by", ""),
        documents_revised=plan.get("documents_revised", ""))


def _rows(query: pw.Query) -> list[tuple[Any, ...]]:
    """The query's rows as the database driver returns them (no peewee conversion)."""
    return list(store.db.execute(query).fetchall())


def load_records(settings: Settings, *, received_from: datetime | None = None,
                 received_to: datetime | None = None, numbers: list[str] | None = None,
                 with_cycles: bool = True, open_at: datetime | None = None,
                 progress: Callable[[int, int], None] | None = None) -> list[ComplaintRecord]:
    """Every complaint received in [received_from, received_to) (or the given numbers), oldest
    first, with its cycles (in cycle order).

    `with_cycles=False` leaves every record's `cycles` empty (so `current` and `target` are
    None) and skips reading and parsing them: for figures that only count and time complaints
    (the recap's 11 months before its own). `open_at` keeps only the complaints still open at
    that moment (open now, or closed after it; rejected ones never): the recap's open
    complaints by age that were received before its year."""
    s = settings
    labels = {rule.name: rule.label for rule in s.routing.categories}
    deps = {key: dep.name for key, dep in s.departments.items()}

    def selected(query: pw.ModelSelect) -> pw.ModelSelect:
        if received_from is not None:
            query = query.where(Complaint.received_at >= utcnow_naive(received_from))
        if received_to is not None:
            query = query.where(Complaint.received_at < utcnow_naive(received_to))
        if numbers is not None:
            query = query.where(Complaint.number.in_(numbers))
        if open_at is not None:
            query = query.where(Complaint.status.in_([str(x) for x in states.OPEN_STATUSES])
                                | ((Complaint.status == states.CLOSED.value)
                                   & (Complaint.closed_at >= utcnow_naive(open_at))))
        return query

    complaints = _rows(selected(
        Complaint.select(*_COMPLAINT)
        .join(Customer, pw.JOIN.LEFT_OUTER, on=(Complaint.customer == Customer.id))
        .order_by(Complaint.received_at, Complaint.id)))
    cycles: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    if with_cycles:
        for row in _rows(selected(
                Ptpp.select(*_CYCLE).join(Complaint, on=(Ptpp.complaint == Complaint.id))
                .order_by(Ptpp.complaint, Ptpp.cycle, Ptpp.id))):
            cycles[row[0]].append(row)
    # The later cycles' own PTPP numbers (numbering.new_number_per_cycle): few rows, read
    # also without the cycles, for the register.
    new_ptpps: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for complaint_id, cycle, ptpp_number in _rows(selected(
            Ptpp.select(Ptpp.complaint, Ptpp.cycle, Ptpp.number)
            .join(Complaint, on=(Ptpp.complaint == Complaint.id))
            .where(Ptpp.cycle > 1, Ptpp.number != Complaint.number)
            .order_by(Ptpp.complaint, Ptpp.cycle))):
        new_ptpps[complaint_id].append((cycle, ptpp_number))
    claims: dict[int, str] = {}
    for complaint_id, values in _rows(selected(
            FormSubmission.select(FormSubmission.complaint, FormSubmission.values)
            .join(Complaint, on=(FormSubmission.complaint == Complaint.id))
            .where(FormSubmission.form == "retur",
                   FormSubmission.accepted == True)  # noqa: E712
            .order_by(FormSubmission.id))):
        claims[complaint_id] = (json.loads(values).get("claim_number", "")
                                or CLAIM_WITHOUT_NUMBER)
    records = []
    total = len(complaints)
    closed = states.CLOSED
    rejected = states.REJECTED
    for i, row in enumerate(complaints, start=1):
        (cid, number, year, seq, received_at, channel, customer_id, customer_name,
         customer_email, subject, description, product, batch, quantity, category, department,
         status, first_response_at, first_response_due_at, closed_at, return_requested,
         rejected_reason, severity, satisfaction, return_state, repeat_of) = row
        if customer_id is None:
            customer_name = customer_email = None
        records.append(ComplaintRecord(
            number=number, year=year, seq=seq,
            received_at=_aware(received_at),  # type: ignore[arg-type]
            channel=channel,
            customer=(customer_name or customer_email or "") if customer_id else "",
            customer_email=(customer_email or "") if customer_id else "",
            subject=subject, description=description, product=product, batch=batch,
            quantity=quantity, category=labels.get(category, ""),
            department=deps.get(department, department), status=status,
            valid=status != rejected,
            first_response_at=_aware(first_response_at),
            first_response_due_at=_aware(first_response_due_at),
            closed_at=_aware(closed_at) if status == closed else None,
            return_requested=bool(return_requested), return_claim=claims.get(cid, ""),
            remarks=rejected_reason,
            cycles=tuple(_cycle(p, deps.get(p[2], p[2])) for p in cycles.get(cid, ())),
            severity=severity, satisfaction=satisfaction, return_state=return_state or "{}",
            repeat_of=repeat_of or "", new_ptpps=tuple(new_ptpps.get(cid, ()))))
        if progress is not None and (i % 1000 == 0 or i == total):
            progress(i, total)
    return records


def first_received_at() -> datetime | None:
    """When the first complaint on record was received (any status), None when there is none:
    where the recap's monthly trend starts having data."""
    row = _rows(Complaint.select(pw.fn.MIN(Complaint.received_at)))
    return _aware(row[0][0]) if row else None
