"""The complaint / PTPP lifecycle as a pure aggregate, and the names the rest of mailproc uses.

`Case` is one complaint with its PTPP cycles as far as the procedure's rules need them. Its
methods check the transition table (`mailproc.domain.states`), change the case and return the
domain events that record what happened; the store appends those to the event chain in the
same transaction, and the use cases turn them into mail and documents. Two rules live here and
nowhere else:

- the first response (procedure 4.4): the acknowledgement that reached the customer, or a
  response given by phone or in person, whichever came first; a bounced acknowledgement is no
  response;
- the cycle rule (procedure 9-10): "not effective" closes the cycle as not effective and opens
  cycle n + 1 for the same department, with no limit on cycles; "effective" closes the PTPP.

Pure: standard library only, no I/O, the time comes in as an argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from mailproc.domain import states
from mailproc.domain.numbering import suffixed
from mailproc.domain.states import ComplaintStatus


class PtppStatus(StrEnum):
    """The status of one cycle of the PTPP."""

    OPEN = "open"  # created, not yet sent to the department
    ISSUED = "issued"
    PLANNED = "planned"
    IMPLEMENTED = "implemented"
    CLOSED = "closed"  # verified effective
    NOT_EFFECTIVE = "not_effective"  # verified not effective: the next cycle follows


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a flush; back to queued if that process died
    SENT = "sent"
    FAILED = "failed"  # refused for good; marketing administration is told
    BOUNCED = "bounced"  # accepted, then a delivery report came back


class EventKind(StrEnum):
    """Every kind of event in the hash-chained event log."""

    # mail in
    MAIL_RECEIVED = "mail_received"
    MAIL_IGNORED = "mail_ignored"
    MAIL_QUARANTINED = "mail_quarantined"
    MAIL_BOUNCED = "mail_bounced"
    # mail out
    MAIL_QUEUED = "mail_queued"
    MAIL_SENT = "mail_sent"
    MAIL_FAILED = "mail_failed"
    MAIL_REQUEUED = "mail_requeued"
    MAIL_UNCERTAIN = "mail_uncertain"  # left 'sending' by a crash, nothing to check it with
    AUTO_REPLY_SUPPRESSED = "auto_reply_suppressed"
    # the lifecycle
    COMPLAINT_REGISTERED = "complaint_registered"
    DEPARTMENT_ASSIGNED = "department_assigned"
    DEPARTMENT_INVOLVED = "department_involved"  # another function helps (procedure step 6)
    PTPP_ISSUED = "ptpp_issued"
    PTPP_WITHDRAWN = "ptpp_withdrawn"  # reassigned: the department's form no longer counts
    PTPP_ISSUE_FAILED = "ptpp_issue_failed"
    PTPP_PLANNED = "ptpp_planned"
    PTPP_IMPLEMENTED = "ptpp_implemented"
    PTPP_VERIFIED = "ptpp_verified"
    CYCLE_STARTED = "cycle_started"
    COMPLAINT_CLOSED = "complaint_closed"
    COMPLAINT_REJECTED = "complaint_rejected"
    COMPLAINT_HELD = "complaint_held"  # past the sender's daily limit: kept in triage
    RESPONSE_RECORDED = "response_recorded"
    SEND_ANALYSIS_SET = "send_analysis_set"
    SATISFACTION_RATED = "satisfaction_rated"  # the customer's rating after closing
    ANALYSIS_REQUESTED = "analysis_requested"  # a customer's follow-up asks for the analysis
    SEVERITY_SET = "severity_set"  # the PTPP category (Mayor / Minor / Observasi) changed
    NOTE = "note"
    CUSTOMER_ASKED = "customer_asked"
    # forms and decisions by mail
    FORM_REFUSED = "form_refused"
    MANUAL_ENTRY_REQUESTED = "manual_entry_requested"
    RETURN_FORM_SENT = "return_form_sent"
    RETURN_FORM_FAILED = "return_form_failed"
    RETURN_CLAIM_RECEIVED = "return_claim_received"
    RETURN_INSPECTED = "return_inspected"
    RETURN_DECIDED = "return_decided"
    RETURN_SETTLED = "return_settled"
    DECISIONS_RECEIVED = "decisions_received"
    DECISION_REFUSED = "decision_refused"
    CLOSURE_REPORT_FAILED = "closure_report_failed"
    # monitoring and reports
    REMINDER_SENT = "reminder_sent"
    ESCALATED = "escalated"
    FIRST_RESPONSE_OVERDUE = "first_response_overdue"
    DIGEST_SENT = "digest_sent"
    RECAP_SENT = "recap_sent"
    # records: the sha256 of every archived file (raw mail, attachments, documents, reports)
    FILES_ARCHIVED = "files_archived"
    # records kept as the law asks (domain.records_law): a tombstone naming the raw mail and
    # attachments removed (past retention, or erased), a customer's data handed out, erased
    RECORDS_PURGED = "records_purged"
    CUSTOMER_EXPORTED = "customer_exported"
    CUSTOMER_ERASED = "customer_erased"


class MailKind(StrEnum):
    """Every kind of mail mailproc sends (`outgoing_mail.kind`)."""

    ACK = "ack"  # the acknowledgement to the customer: the first response when it arrives
    NOTICE_NEW = "notice_new"
    NOTICE_FLOOD = "notice_flood"
    PTPP_ISSUE = "ptpp_issue"
    PTPP_WITHDRAWN = "ptpp_withdrawn"
    PTPP_INVOLVED = "ptpp_involved"  # the form and the thread to a department that helps
    RETURN_FORM = "return_form"
    FORM_PROBLEM = "form_problem"
    FORM_ACCEPTED = "form_accepted"
    DECISION_REPLY = "decision_reply"
    NOTICE_PLAN = "notice_plan"
    ANALYSIS_TO_CUSTOMER = "analysis_to_customer"
    NOTICE_IMPLEMENTED = "notice_implemented"
    NOTICE_RETURN_CLAIM = "notice_return_claim"
    CLOSING_CUSTOMER = "closing_customer"
    CLOSURE_REPORT = "closure_report"
    RETURN_DECISION = "return_decision"
    RETURN_SETTLED = "return_settled"
    NOTICE_SATISFACTION = "notice_satisfaction"
    THANKS_SATISFACTION = "thanks_satisfaction"
    QUESTION_CUSTOMER = "question_customer"
    NOTICE_FOLLOW_UP = "notice_follow_up"
    NOTICE_BOUNCE = "notice_bounce"
    NOTICE_QUARANTINE = "notice_quarantine"
    NOTICE_MANUAL_ENTRY = "notice_manual_entry"
    NOTICE_SEND_FAILED = "notice_send_failed"
    NOTICE_NO_RESPONSE = "notice_no_response"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    DIGEST = "digest"
    RECAP = "recap"


class MessageKind(StrEnum):
    """What a stored incoming mail turned out to be (`message.kind`), beside the intake
    verdicts (`mailproc.domain.intake.Verdict`)."""

    FOLLOW_UP = "follow_up"
    STAFF_MESSAGE = "staff_message"
    BOUNCE = "bounce"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"


def counts_as_first_response(kind: str, auto_ack: bool = True) -> bool:
    """Which mail, once delivered, is the first response to the customer: the automatic
    acknowledgement, unless the company wants a person's response for that
    (`sla.auto_ack_counts_as_first_response = false`, `auto_ack` here)."""
    return auto_ack and kind == MailKind.ACK


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened to a case: its kind and the data the event chain keeps."""

    kind: EventKind
    data: dict[str, Any] = field(default_factory=dict)


class InvalidTransition(states.InvalidTransition):
    """A step the transition table does not allow from the case's status."""


class LifecycleError(ValueError):
    """A step the procedure refuses for another reason (a gate); `id_message` in Indonesian."""

    def __init__(self, message: str, id_message: str) -> None:
        super().__init__(message)
        self.id_message = id_message


@dataclass
class Cycle:
    """One cycle of the PTPP: what the lifecycle needs of it."""

    number: int
    department: str
    status: PtppStatus = PtppStatus.OPEN
    issued_at: datetime | None = None
    plan_due_at: datetime | None = None
    planned_at: datetime | None = None
    implemented_at: datetime | None = None
    verification_result: str = ""  # effective / not_effective
    verification_note: str = ""
    verifier: str = ""
    verified_at: datetime | None = None
    closed_at: datetime | None = None
    # The PTPP number of this cycle: the complaint's for cycle 1; a later cycle's own (from
    # the sequence, or the first with a suffix; numbering.new_number_per_cycle).
    ptpp_number: str = ""


@dataclass
class Case:
    """A complaint and its current PTPP cycle. `cycles` holds the current cycle and, after a
    'not effective' verification, the new one; the store saves the cycles it is given."""

    number: str
    status: ComplaintStatus
    department: str
    cycles: list[Cycle]
    first_response_at: datetime | None = None
    first_response_note: str = ""
    closed_at: datetime | None = None
    rejected_reason: str = ""
    send_analysis_to_customer: bool = False
    updated_at: datetime | None = None
    severity: str = states.DEFAULT_SEVERITY.value

    # ---- construction -----------------------------------------------------------------

    @classmethod
    def register(cls, number: str, department: str | None, at: datetime,
                 data: dict[str, Any], severity: str = states.DEFAULT_SEVERITY.value
                 ) -> tuple[Case, list[DomainEvent]]:
        """A new complaint: assigned when routing chose a department, else to triage.
        `data` is what registration recorded (routing, channel, customer) for the event;
        `severity` the PTPP category, the default of the routing category."""
        status = ComplaintStatus(states.initial_status(department))
        _check(None, status)
        severity = states.Severity(severity).value
        case = cls(number=number, status=status, department=department or "",
                   cycles=[Cycle(1, department or "")], updated_at=at, severity=severity)
        return case, [DomainEvent(EventKind.COMPLAINT_REGISTERED,
                                  {"number": number, "status": str(status),
                                   "severity": severity, **data})]

    @property
    def cycle(self) -> Cycle:
        return self.cycles[-1]

    @property
    def is_open(self) -> bool:
        return self.status in states.OPEN_STATUSES

    # ---- the procedure ----------------------------------------------------------------

    def assign(self, department: str, at: datetime, note: str = "") -> list[DomainEvent]:
        """Marketing administration chooses (or changes) the responsible department. When the
        current cycle's form was already issued to another department, that department's
        form is withdrawn (an event of its own: it is told)."""
        _check(self.status, ComplaintStatus.ASSIGNED)
        events = []
        previous = self.cycle.department
        if (self.status == ComplaintStatus.ISSUED and previous and previous != department):
            events.append(DomainEvent(EventKind.PTPP_WITHDRAWN,
                                      {"department": previous, "cycle": self.cycle.number,
                                       "new_department": department}))
        events.insert(0, DomainEvent(EventKind.DEPARTMENT_ASSIGNED,
                                     {"department": department, "previous": self.department,
                                      "from_status": str(self.status), "note": note}))
        self.department = department
        self.cycle.department = department
        self.status = ComplaintStatus.ASSIGNED
        self.updated_at = at
        return events

    def involve(self, department: str, at: datetime, note: str = "") -> list[DomainEvent]:
        """Procedure step 6: another function takes part in the analysis. It gets the
        current cycle's form and the thread to read and answer; the responsible department
        still fills in and returns the form. Only while the form is out (issued, planned or
        implemented), never the responsible department itself."""
        if self.status not in (ComplaintStatus.ISSUED, ComplaintStatus.PLANNED,
                               ComplaintStatus.IMPLEMENTED):
            raise LifecycleError(
                f"{self.number}: another department can be involved only once the PTPP form "
                f"is out (status issued, planned or implemented); the status is {self.status}",
                "bagian lain hanya dapat dilibatkan setelah formulir PTPP dikirim; status "
                f"sekarang \"{states.LABELS_ID[self.status]}\"")
        if department == self.department:
            raise LifecycleError(
                f"{self.number}: {department} is the responsible department already",
                "bagian tersebut adalah bagian yang bertanggung jawab atas PTPP ini")
        self.updated_at = at
        return [DomainEvent(EventKind.DEPARTMENT_INVOLVED,
                            {"department": department, "cycle": self.cycle.number,
                             "responsible": self.department, "note": note})]

    def issue(self, at: datetime, plan_due: datetime,
              data: dict[str, Any] | None = None) -> list[DomainEvent]:
        """The current cycle's form went to the department; the plan is due at `plan_due`."""
        if not self.department:
            raise LifecycleError(f"{self.number} has no department to send the PTPP to",
                                 "belum ada bagian yang ditetapkan")
        _check(self.status, ComplaintStatus.ISSUED)
        event = DomainEvent(EventKind.PTPP_ISSUED,
                            {"cycle": self.cycle.number, **(data or {}),
                             "from_status": str(self.status)})
        self.status = ComplaintStatus.ISSUED
        c = self.cycle
        c.status, c.issued_at, c.plan_due_at, c.department = (
            PtppStatus.ISSUED, at, plan_due, self.department)
        self.updated_at = at
        return [event]

    def form_step(self, completion_given: bool) -> str:
        """Which step a department's filled form answers: 'plan', or 'implement' once planned
        or when the completion part is filled in too."""
        return "implement" if (self.status == ComplaintStatus.PLANNED or completion_given) \
            else "plan"

    def receive_plan(self, at: datetime, data: dict[str, Any]) -> list[DomainEvent]:
        """The root-cause analysis and action plan arrived and were accepted."""
        return [self._move(ComplaintStatus.PLANNED, at, data)]

    def report_done(self, at: datetime, data: dict[str, Any]) -> list[DomainEvent]:
        """The actions were reported done; from 'issued' the plan is taken as received too
        (one form with both parts filled)."""
        events = []
        if self.status != ComplaintStatus.PLANNED:
            events.append(self._move(ComplaintStatus.PLANNED, at, data))
        events.append(self._move(ComplaintStatus.IMPLEMENTED, at, data))
        return events

    def _move(self, target: ComplaintStatus, at: datetime,
              data: dict[str, Any]) -> DomainEvent:
        _check(self.status, target)
        event = DomainEvent(EventKind(f"ptpp_{target}"),
                            {"cycle": self.cycle.number, "from_status": str(self.status),
                             **data})
        self.status = target
        self.cycle.status = PtppStatus(str(target))
        if target == ComplaintStatus.PLANNED:
            self.cycle.planned_at = at
        else:
            self.cycle.implemented_at = at
        self.updated_at = at
        return event

    def verify(self, *, effective: bool, note: str, verifier: str,
               at: datetime, next_number: str | Callable[[], str] = ""
               ) -> list[DomainEvent]:
        """The effectiveness check (procedure 9-10). Effective closes the PTPP; not effective
        closes this cycle as such and opens the next one for the same department, to be
        issued by the caller, under `next_number` (or what it returns, called only then: the
        caller's sequence is not used by a refused verification; by default the first number
        with the cycle as suffix). Only after implementation, never without a note."""
        if self.status != ComplaintStatus.IMPLEMENTED:
            raise LifecycleError(
                f"{self.number}: effectiveness can be evaluated only after the actions are "
                f"reported done (status implemented); the status is {self.status}",
                "evaluasi efektivitas hanya dapat dicatat setelah bagian melaporkan tindakan "
                f"selesai; status sekarang \"{states.LABELS_ID[self.status]}\"")
        note = note.strip()
        if not note:
            raise LifecycleError(f"{self.number}: an evaluation note is required (--note)",
                                 "catatan evaluasi wajib diisi (tulis CATATAN: …)")
        c = self.cycle
        result = "effective" if effective else "not_effective"
        c.verification_result, c.verification_note, c.verifier, c.verified_at = (
            result, note, verifier, at)
        events = [DomainEvent(EventKind.PTPP_VERIFIED,
                              {"cycle": c.number, "result": result, "note": note,
                               "verifier": verifier})]
        self.updated_at = at
        if effective:
            _check(self.status, ComplaintStatus.CLOSED)
            c.status, c.closed_at = PtppStatus.CLOSED, at
            self.status, self.closed_at = ComplaintStatus.CLOSED, at
            events.append(DomainEvent(EventKind.COMPLAINT_CLOSED, {"cycle": c.number}))
            return events
        c.status = PtppStatus.NOT_EFFECTIVE
        number = (next_number() if callable(next_number) else next_number) or suffixed(
            self.number, c.number + 1)
        # Linked both ways: the closed cycle names the new PTPP (section C), the new one the
        # PTPP it follows.
        events[0].data["new_number"] = number
        self.cycles.append(Cycle(c.number + 1, self.department, ptpp_number=number))
        events.append(DomainEvent(EventKind.CYCLE_STARTED,
                                  {"cycle": c.number + 1, "number": number,
                                   "previous_number": c.ptpp_number or self.number}))
        return events

    def reject(self, reason: str, at: datetime) -> list[DomainEvent]:
        """Not a complaint (spam, misdirected): closed as rejected, with the reason."""
        reason = reason.strip()
        if not reason:
            raise LifecycleError(
                f"{self.number}: a reason is required to reject a complaint (--reason)",
                "alasan penolakan wajib diisi")
        _check(self.status, ComplaintStatus.REJECTED)
        event = DomainEvent(EventKind.COMPLAINT_REJECTED,
                            {"reason": reason, "from_status": str(self.status)})
        self.status, self.rejected_reason, self.closed_at = ComplaintStatus.REJECTED, reason, at
        self.updated_at = at
        return [event]

    # ---- the first response -----------------------------------------------------------

    def ack_sent(self, at: datetime) -> bool:
        """The acknowledgement was handed to the mail server: the first response, unless one
        was recorded before. Returns whether it changed the case."""
        if self.first_response_at is not None:
            return False
        self.first_response_at = at
        return True

    def ack_bounced(self) -> bool:
        """The acknowledgement bounced: the customer got no response from it. A response
        recorded by hand (with its note) stands."""
        if self.first_response_at is None or self.first_response_note:
            return False
        self.first_response_at = None
        return True

    def record_response(self, text: str, at: datetime) -> list[DomainEvent]:
        """A response given by phone or in person; the first response if none was yet."""
        text = text.strip()
        if not text:
            raise LifecycleError("describe the response that was given (what, by whom, how)",
                                 "isi tanggapan kosong")
        if self.first_response_at is None:
            self.first_response_at, self.first_response_note = at, text
        return [DomainEvent(EventKind.RESPONSE_RECORDED, {"text": text})]

    def classify(self, severity: str, at: datetime) -> list[DomainEvent]:
        """Marketing administration sets the PTPP category. Not on a closed or rejected
        complaint: its forms and reports are the record. Setting the same category again
        changes nothing (no event)."""
        value = states.Severity(severity).value
        if not self.is_open:
            raise LifecycleError(
                f"{self.number}: the PTPP category cannot change once the complaint is "
                f"{self.status}",
                "kategori PTPP tidak dapat diubah lagi; status keluhan "
                f"\"{states.LABELS_ID[self.status]}\"")
        if value == self.severity:
            return []
        previous, self.severity, self.updated_at = self.severity, value, at
        return [DomainEvent(EventKind.SEVERITY_SET, {"severity": value, "previous": previous})]

    def set_send_analysis(self, wanted: bool) -> list[DomainEvent]:
        """The customer asked (or no longer asks) for the analysis and plan (procedure step
        7). Asked for after the current cycle's plan arrived, it goes to them now
        (`send_cycle` in the event); asked for before, it goes with the plan when it comes."""
        data: dict[str, Any] = {"wanted": wanted}
        if wanted and not self.send_analysis_to_customer and self.cycle.planned_at is not None:
            data["send_cycle"] = self.cycle.number
        self.send_analysis_to_customer = wanted
        return [DomainEvent(EventKind.SEND_ANALYSIS_SET, data)]


def _check(current: str | None, target: ComplaintStatus) -> None:
    try:
        states.check_transition(current, target)
    except states.InvalidTransition as exc:
        raise InvalidTransition(exc.current, exc.target) from None
