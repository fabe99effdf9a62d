"""The complaint statuses and the table of allowed transitions between them (used by the
lifecycle aggregate in `mailproc.domain.lifecycle`)."""

from __future__ import annotations

from enum import StrEnum


class ComplaintStatus(StrEnum):
    TRIAGE = "triage"  # no responsible department could be chosen: marketing admin decides
    ASSIGNED = "assigned"  # a department is chosen; the PTPP form goes out to it
    ISSUED = "issued"  # the PTPP form was sent to the department
    PLANNED = "planned"  # root-cause analysis and action plan received
    IMPLEMENTED = "implemented"  # actions reported done; waiting for the effectiveness check
    CLOSED = "closed"  # verified effective
    REJECTED = "rejected"  # not a complaint (spam, misdirected), with a reason


# The members under short names, as the rest of the code reads them.
TRIAGE = ComplaintStatus.TRIAGE
ASSIGNED = ComplaintStatus.ASSIGNED
ISSUED = ComplaintStatus.ISSUED
PLANNED = ComplaintStatus.PLANNED
IMPLEMENTED = ComplaintStatus.IMPLEMENTED
CLOSED = ComplaintStatus.CLOSED
REJECTED = ComplaintStatus.REJECTED

STATUSES = tuple(s.value for s in ComplaintStatus)  # plain strings, for click choices

LABELS_ID = {
    TRIAGE: "Menunggu penentuan bagian",
    ASSIGNED: "Bagian ditentukan",
    ISSUED: "PTPP diterbitkan",
    PLANNED: "Analisis & rencana diterima",
    IMPLEMENTED: "Tindakan selesai, menunggu verifikasi",
    CLOSED: "Ditutup (efektif)",
    REJECTED: "Ditolak (bukan keluhan)",
}

# None is the state before registration.
TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({TRIAGE, ASSIGNED}),
    TRIAGE: frozenset({ASSIGNED, REJECTED}),
    ASSIGNED: frozenset({ASSIGNED, ISSUED, REJECTED}),
    ISSUED: frozenset({ASSIGNED, PLANNED, REJECTED}),
    PLANNED: frozenset({IMPLEMENTED}),
    IMPLEMENTED: frozenset({CLOSED, ISSUED}),  # not effective → a new cycle is issued
    CLOSED: frozenset(),
    REJECTED: frozenset(),
}

OPEN_STATUSES = frozenset(STATUSES) - {CLOSED, REJECTED}


class Severity(StrEnum):
    """The PTPP category of the controlled form (Kategori: Mayor / Minor / Observasi)."""

    MAYOR = "mayor"  # a nonconformity that affects the customer or the product seriously
    MINOR = "minor"
    OBSERVASI = "observasi"  # an observation: a risk or an improvement, no nonconformity


SEVERITIES = tuple(s.value for s in Severity)
SEVERITY_LABELS = {Severity.MAYOR: "Mayor", Severity.MINOR: "Minor",
                   Severity.OBSERVASI: "Observasi"}
DEFAULT_SEVERITY = Severity.MINOR


def severity_of(word: str) -> Severity | None:
    """The severity a person wrote ('MAYOR', 'Major', 'obs' …), or None."""
    w = word.strip().lower().rstrip(".!")
    aliases = {"mayor": Severity.MAYOR, "major": Severity.MAYOR, "minor": Severity.MINOR,
               "observasi": Severity.OBSERVASI, "observation": Severity.OBSERVASI,
               "obs": Severity.OBSERVASI}
    return aliases.get(w)


class InvalidTransition(ValueError):
    def __init__(self, current: str | None, target: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "none"
        super().__init__(
            f"cannot go from {current or 'new'} to {target}; allowed from here: {allowed}"
        )
        self.current = current
        self.target = target


def check_transition(current: str | None, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(current, target)


def initial_status(department: str | None) -> ComplaintStatus:
    return ASSIGNED if department else TRIAGE
