"""Plain records of complaints and their PTPP cycles, as the reports see them: loaded from the
database by `mailproc.store.reportdata`, consumed by the pure figures in `domain.figures`.
All datetimes are timezone-aware (UTC); dates are the company's local dates."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from mailproc.domain.forms import Action
from mailproc.domain.states import ComplaintStatus

# `ComplaintRecord.return_claim` of an accepted return-claim form whose "No. Klaim" was left
# empty: a form arrived, its number is the one it was issued with (KR-<PTPP number>).
CLAIM_WITHOUT_NUMBER = "diterima"


def customer_label(name: str | None, email: str | None) -> str:
    """A customer as forms and mail show them: "Name <address>", or what is known ('')."""
    return f"{name} <{email}>" if name and email else (email or name or "")


@dataclass(frozen=True)
class CycleRecord:
    cycle: int
    department: str  # display name
    issued_at: datetime | None
    plan_due_at: datetime | None
    planned_at: datetime | None
    implemented_at: datetime | None
    correction: str
    whys: tuple[str, ...]
    category_6m: str
    root_cause: str
    actions: tuple[Action, ...]  # domain.forms.Action, the rows of the action table
    completion_date: date | None
    completion_evidence: str
    verification_result: str  # 'effective', 'not_effective' or ''
    verification_note: str
    verifier: str
    verified_at: datetime | None
    closed_at: datetime | None
    correction_date: date | None = None  # when the immediate correction was made
    correction_by: str = ""  # who made it
    documents_revised: str = ""  # procedures, work instructions … revised by the actions


@dataclass(frozen=True)
class ComplaintRecord:
    number: str
    year: int
    seq: int
    received_at: datetime
    channel: str  # email, langsung, telepon, surat, whatsapp
    customer: str  # name, else email
    customer_email: str
    subject: str
    description: str
    product: str
    batch: str
    quantity: str
    category: str  # label, e.g. 'Kualitas / cacat produk'; '' when unclassified
    department: str  # display name; '' in triage
    status: str  # a domain.states status
    valid: bool  # False when rejected as not a complaint
    first_response_at: datetime | None
    first_response_due_at: datetime | None
    closed_at: datetime | None
    return_requested: bool
    return_claim: str  # the claim number when a return-claim form was received, else ''
    remarks: str  # e.g. the rejection reason
    cycles: tuple[CycleRecord, ...]
    severity: str = "minor"  # the PTPP category, a domain.states.Severity value
    satisfaction: int | None = None  # the customer's rating after closing, 1-5
    return_state: str = "{}"  # domain.returns.ReturnState as JSON
    repeat_of: str = ""  # the earlier complaint this one repeats (domain.repeats), '' when none
    # (cycle, PTPP number) of the later cycles that are new PTPPs ("No. PTPP baru"), in order.
    new_ptpps: tuple[tuple[int, str], ...] = ()

    @property
    def current(self) -> CycleRecord | None:
        return self.cycles[-1] if self.cycles else None

    @property
    def target(self) -> date | None:
        """The completion target: the latest action target of the current cycle."""
        cycle = self.current
        targets = [a.target for a in cycle.actions if a.target] if cycle else []
        return max(targets) if targets else None


def closed_effective(record: ComplaintRecord, *, note: str, verifier: str,
                     at: datetime) -> ComplaintRecord:
    """The record as it will read once its current cycle is verified effective (procedure
    10): what the closure report is rendered from before the write transaction opens. Must
    equal what `store.reportdata` loads after `Case.verify(effective=True)` is saved."""
    cycle = replace(record.cycles[-1], verification_result="effective",
                    verification_note=note.strip(), verifier=verifier, verified_at=at,
                    closed_at=at)
    return replace(record, status=ComplaintStatus.CLOSED.value, closed_at=at,
                   cycles=(*record.cycles[:-1], cycle))
