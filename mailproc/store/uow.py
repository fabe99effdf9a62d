"""The unit of work: one write transaction through which a use case loads the lifecycle
aggregate, saves it back, records the domain events it returned on the event chain, and hands
them to the message bus it was given (`mailproc.ptpp.handlers`), whose handlers queue the mail
that follows. Outgoing mail queued inside it (`mailproc.outgoing.outbox.queue_mail` →
`store.outbox`) and files the archive staged inside it share its fate: committed together, or
gone together (the transactional outbox: a mail exists exactly when its change committed).

    with UnitOfWork(handlers.bus(app)) as uow:
        row, case = uow.load(number)
        events = case.reject(reason, now)
        uow.save(row, case, events, at=now, actor=actor, source=source)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from mailproc.domain.lifecycle import Case, ComplaintStatus, Cycle, DomainEvent, PtppStatus
from mailproc.errors import NotFound
from mailproc.store import fastsql
from mailproc.store.chain import record
from mailproc.store.db import on_outcome, transaction
from mailproc.store.models import Complaint, Ptpp, aware, utcnow_naive
from mailproc.store.queries import complaint_by_number


class Bus(Protocol):
    """What the unit of work hands saved events to (`mailproc.ptpp.handlers.Bus`)."""

    def handle(self, row: Complaint, events: list[DomainEvent], *, at: datetime, actor: str,
               source: str) -> None: ...


class UnitOfWork:
    """`with UnitOfWork(bus) as uow:` opens (or joins) the write transaction. Without a bus the
    events are only recorded (steps no mail follows: notes, responses, assignment)."""

    def __init__(self, bus: Bus | None = None) -> None:
        self._tx: Any = None
        self._bus = bus

    def __enter__(self) -> UnitOfWork:
        self._tx = transaction()
        self._tx.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool | None:
        return self._tx.__exit__(kind, exc, tb)

    def load(self, number: str) -> tuple[Complaint, Case]:
        row = complaint_by_number(number)
        if row is None:
            raise NotFound(f"no complaint {number}; see `mailproc complaints list`")
        return row, case_of(row)

    def save(self, row: Complaint, case: Case, events: Iterable[DomainEvent] = (), *,
             at: datetime, actor: str, source: str) -> None:
        events = list(events)
        save_case(row, case)
        record(row, events, at=at, actor=actor, source=source)
        if self._bus is not None:
            self._bus.handle(row, events, at=at, actor=actor, source=source)

    def record(self, row: Complaint | None, events: Iterable[DomainEvent], *, at: datetime,
               actor: str, source: str) -> None:
        record(row, events, at=at, actor=actor, source=source)


_LIFECYCLE_COLUMNS = ("id", "number", "status", "department", "first_response_at",
                      "first_response_note", "closed_at", "rejected_reason",
                      "send_analysis_to_customer", "updated_at", "severity")


def lifecycle_row(complaint_id: int) -> Complaint:
    """A complaint row with only what `case_of` and `save_case` use, read fresh: for steps
    that touch the lifecycle alone (the acknowledgement sent, or bounced), once per mail."""
    row = fastsql.first(Complaint, columns=_LIFECYCLE_COLUMNS, id=complaint_id)
    if row is None:
        raise Complaint.DoesNotExist(f"complaint {complaint_id}")
    return row


def current_cycle(row: Complaint) -> Ptpp:
    cycle = fastsql.first(Ptpp, order_by="-cycle", complaint=row.id)
    if cycle is None:
        raise Ptpp.DoesNotExist(f"complaint {row.number} has no PTPP cycle")
    return cycle


def case_of(row: Complaint, *, cycle: bool = True) -> Case:
    """The aggregate of a stored complaint, with its current cycle. `cycle=False` reads the
    complaint alone, for the first-response steps (`ack_sent`, `ack_bounced`), which touch
    no cycle: one query less per acknowledgement sent."""
    if not cycle:
        return _case(row, [])
    p = current_cycle(row)
    # What the current cycle's lifecycle columns hold, so save_case writes only a change
    # (the acknowledgement sent changes the complaint alone; an UPDATE saved per mail).
    _stored_cycles(row)[p.cycle] = {name: getattr(p, name) for name in _CYCLE_COLUMNS}
    current = Cycle(
        number=p.cycle, department=p.department, status=PtppStatus(p.status),
        issued_at=aware(p.issued_at), plan_due_at=aware(p.plan_due_at),
        planned_at=aware(p.planned_at), implemented_at=aware(p.implemented_at),
        verification_result=p.verification_result, verification_note=p.verification_note,
        verifier=p.verifier, verified_at=aware(p.verified_at), closed_at=aware(p.closed_at),
        ptpp_number=p.number)
    return _case(row, [current])


def _case(row: Complaint, cycles: list[Cycle]) -> Case:
    return Case(
        number=row.number, status=ComplaintStatus(row.status), department=row.department,
        cycles=cycles, first_response_at=aware(row.first_response_at),
        first_response_note=row.first_response_note, closed_at=aware(row.closed_at),
        rejected_reason=row.rejected_reason,
        send_analysis_to_customer=row.send_analysis_to_customer,
        updated_at=aware(row.updated_at), severity=row.severity)


def _naive(value: datetime | None) -> datetime | None:
    return utcnow_naive(value) if value is not None else None


_CYCLE_COLUMNS = ("department", "status", "issued_at", "plan_due_at", "planned_at",
                  "implemented_at", "verification_result", "verification_note", "verifier",
                  "verified_at", "closed_at")


def _stored_cycles(row: Complaint) -> dict[int, dict[str, Any]]:
    """The lifecycle columns of the cycles this row object has read or written (store-private
    memo on the row; only `case_of` and `save_case` touch it)."""
    memo = row.__dict__.get("_stored_cycles")
    if memo is None:
        memo = row.__dict__["_stored_cycles"] = {}
    return memo


def save_case(row: Complaint, case: Case, *, new: bool = False) -> None:
    """Write the aggregate back: the complaint's lifecycle columns and each cycle it holds
    (a new cycle is created), each only when it changed. The row object is updated too, so
    callers read the new state. `new`: the row was just created, none of its cycles is
    stored yet."""
    values = {
        "status": str(case.status), "department": case.department,
        "first_response_at": _naive(case.first_response_at),
        "first_response_note": case.first_response_note, "closed_at": _naive(case.closed_at),
        "rejected_reason": case.rejected_reason,
        "send_analysis_to_customer": case.send_analysis_to_customer,
        "severity": case.severity,
        "updated_at": _naive(case.updated_at) or row.updated_at,
    }
    changed = {name: value for name, value in values.items() if getattr(row, name) != value}
    stored = _stored_cycles(row)
    cycles = [(c, _cycle_values(c)) for c in case.cycles]
    cycles = [(c, v) for c, v in cycles if stored.get(c.number) != v]
    if not changed and not cycles:
        return
    before = {name: getattr(row, name) for name in changed}, dict(stored)

    def undo() -> None:  # rolled back: the row object reads what the database holds again
        for name, value in before[0].items():
            setattr(row, name, value)
        stored.clear()
        stored.update(before[1])

    on_outcome(lambda: None, undo)
    if changed:
        fastsql.update(Complaint, changed, id=row.id)
        for name, value in changed.items():
            setattr(row, name, value)
    # A cycle the memo does not hold is new when the memo is complete: `case_of` read the
    # current cycle (a later one is the next cycle), or the complaint itself is new.
    complete = new or bool(before[1])
    for c, cycle_values in cycles:
        updated = 0
        if c.number in stored or not complete:
            updated = fastsql.update(Ptpp, cycle_values, complaint=row.id, cycle=c.number)
        if not updated:
            fastsql.create(Ptpp, complaint=row.id, number=c.ptpp_number or row.number,
                           cycle=c.number,
                           created_at=_naive(case.updated_at) or row.updated_at,
                           **cycle_values)
        stored[c.number] = cycle_values


def _cycle_values(c: Cycle) -> dict[str, Any]:
    return {
        "department": c.department, "status": str(c.status),
        "issued_at": _naive(c.issued_at), "plan_due_at": _naive(c.plan_due_at),
        "planned_at": _naive(c.planned_at), "implemented_at": _naive(c.implemented_at),
        "verification_result": c.verification_result,
        "verification_note": c.verification_note, "verifier": c.verifier,
        "verified_at": _naive(c.verified_at), "closed_at": _naive(c.closed_at),
    }


def save_plan(row: Complaint, cycle: int, plan: dict[str, str], root_cause: str) -> None:
    """The accepted form values of a cycle (what the department wrote)."""
    (Ptpp.update(plan=json.dumps(plan, ensure_ascii=False), root_cause=root_cause)
     .where(Ptpp.complaint == row.id, Ptpp.cycle == cycle).execute())
