"""Figures for the reports: the complaint register (daftar induk / rekapitulasi), lead times,
the management-review figures of the monthly recap and the status digest.

Pure domain code: standard library only, no I/O, no clock reads (`now` is a parameter).
Input is `domain.records` records (UTC datetimes); dates shown are company-local (`cal.tz`).

General rules
-------------
- Working-day figures come from `WorkCalendar.working_days_between` (working time / day length)
  and are rounded to 1 decimal.
- Rejected complaints (`valid=False`, "bukan keluhan") appear in the register and in the
  recap's `total`, and nowhere else: trends, Pareto, on-target, median and open by age count
  valid complaints only.
- A month is the company-local month of `received_at`: 2026-10-31 23:30 WIB (16:30 UTC) is
  October, 2026-11-01 02:00 WIB (2026-10-31 19:00 UTC) is November.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from mailproc.domain import returns, states
from mailproc.domain.calendar import WorkCalendar, due_date_end, overdue_by
from mailproc.domain.records import ComplaintRecord
from mailproc.domain.satisfaction import Summary, summarise
from mailproc.domain.states import SEVERITY_LABELS, Severity

__all__ = [
    "REGISTER_COLUMNS",
    "UNCLASSIFIED",
    "AGE_BUCKETS",
    "RegisterRow",
    "register_rows",
    "LeadTimes",
    "lead_times",
    "monthly_counts",
    "pareto",
    "closed_on_target",
    "median_days_to_close",
    "open_by_age",
    "RecapFigures",
    "recap",
    "DigestItem",
    "Digest",
    "digest",
]

REGISTER_COLUMNS: tuple[str, ...] = (
    "No",
    "No. PTPP",
    "Tanggal terima",
    "Pelanggan",
    "Saluran",
    "Produk",
    "No. batch/lot",
    "Qty",
    "Kategori",
    "Uraian",
    "Valid (Y/T)",
    "Bagian / PIC",
    "Tanggapan pertama",
    "Target selesai",
    "Tanggal selesai",
    "Lama penyelesaian (hari kerja)",
    "Status",
    "Retur (Y/T, no. klaim)",
    "Keterangan",
)

UNCLASSIFIED = "Belum terklasifikasi"  # the label of an empty category / product / customer
AGE_BUCKETS: tuple[str, ...] = ("0-2", "3-5", "6-10", ">10")
DESCRIPTION_WIDTH = 300


def _days(value: float) -> float:
    return round(value, 1)


def _local_date(moment: datetime | None, tz: tzinfo) -> date | None:
    return moment.astimezone(tz).date() if moment is not None else None


def _month_key(moment: datetime, tz: tzinfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.year:04d}-{local.month:02d}"


def _shorten(text: str, width: int = DESCRIPTION_WIDTH) -> str:
    """One line (whitespace collapsed); longer than `width` -> cut at a word boundary when one
    is near, ending with '…', at most `width` characters."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    cut = line[: width - 1]
    space = cut.rfind(" ")
    if space >= width * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + "…"


# --- the register ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterRow:
    """One register line, typed, in REGISTER_COLUMNS order: int (No), str, `date` (company-local)
    or None, float (working days, 1 decimal) or None."""

    values: tuple[Any, ...]

    def display(self) -> tuple[str, ...]:
        """Every value as a string: dates dd/mm/yyyy, None '', floats with 1 decimal ('2.5')."""
        out = []
        for v in self.values:
            if v is None:
                out.append("")
            elif isinstance(v, date):
                out.append(f"{v:%d/%m/%Y}")
            elif isinstance(v, float):
                out.append(f"{v:.1f}")
            else:
                out.append(str(v))
        return tuple(out)


def _department_pic(record: ComplaintRecord) -> str:
    """'QC / Budi, Sari': the department, then the distinct PICs of the current cycle's actions
    in action order; either part alone when the other is empty."""
    cycle = record.current
    pics: list[str] = []
    for action in cycle.actions if cycle else ():
        pic = action.pic.strip()
        if pic and pic not in pics:
            pics.append(pic)
    parts = [p for p in (record.department.strip(), ", ".join(pics)) if p]
    return " / ".join(parts)


def _category(record: ComplaintRecord) -> str:
    """'Kualitas / cacat produk (Mayor)': the complaint category with the PTPP category."""
    severity = SEVERITY_LABELS.get(Severity(record.severity), record.severity)
    return f"{record.category} ({severity})" if record.category else severity


def _retur(record: ComplaintRecord) -> str:
    """'Y, <claim>' when a return-claim form was received, then how the claim ended
    ('disetujui: Nota kredit NK-12', 'ditolak (alasan)'); 'Y' when a return was asked for,
    else 'T'."""
    return returns.register_text(record.return_claim, record.return_requested,
                                 returns.ReturnState.from_json(record.return_state))


def _close_days(record: ComplaintRecord, cal: WorkCalendar) -> float | None:
    if record.closed_at is None:
        return None
    return _days(cal.working_days_between(record.received_at, record.closed_at))


def register_rows(records: Iterable[ComplaintRecord], cal: WorkCalendar) -> list[RegisterRow]:
    """The register, one row per complaint (rejected ones included, 'Valid' = 'T'), ordered by
    `received_at` (then number), numbered 1..n. 'Lama penyelesaian' is the working days from
    receipt to closing, None while open."""
    ordered = sorted(records, key=lambda r: (r.received_at, r.number))
    rows = []
    for no, r in enumerate(ordered, start=1):
        rows.append(
            RegisterRow(
                (
                    no,
                    r.number,
                    _local_date(r.received_at, cal.tz),
                    r.customer,
                    r.channel,
                    r.product,
                    r.batch,
                    r.quantity,
                    _category(r),
                    _shorten(r.description),
                    "Y" if r.valid else "T",
                    _department_pic(r),
                    _local_date(r.first_response_at, cal.tz),
                    r.target,
                    _local_date(r.closed_at, cal.tz),
                    _close_days(r, cal),
                    states.LABELS_ID.get(r.status, r.status),
                    _retur(r),
                    r.remarks,
                )
            )
        )
    return rows


# --- lead times --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadTimes:
    """Working days (1 decimal); None when a moment is missing."""

    first_response: float | None  # receipt -> first response to the customer
    analysis: float | None  # first cycle: PTPP issued -> its analysis & plan received
    closing: float | None  # receipt -> closed


def lead_times(record: ComplaintRecord, cal: WorkCalendar) -> LeadTimes:
    """The closure report's lead times. `analysis` is measured on the FIRST cycle only (issued
    -> plan received): it is the responsible party's response to the PTPP (procedure step 6);
    later cycles after a 'not effective' verdict are part of `closing`, and counting up to the
    last plan would double count the failed cycles' implementation and verification."""

    def between(a: datetime | None, b: datetime | None) -> float | None:
        if a is None or b is None:
            return None
        return _days(cal.working_days_between(a, b))

    first = record.cycles[0] if record.cycles else None
    return LeadTimes(
        first_response=between(record.received_at, record.first_response_at),
        analysis=between(first.issued_at, first.planned_at) if first else None,
        closing=between(record.received_at, record.closed_at),
    )


# --- management review -------------------------------------------------------------------------


def _valid(records: Iterable[ComplaintRecord]) -> list[ComplaintRecord]:
    return [r for r in records if r.valid]


def _month_range(end_month: tuple[int, int], months: int) -> list[str]:
    year, month = end_month
    keys = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return keys[::-1]


def monthly_counts(
    records: Iterable[ComplaintRecord],
    *,
    end_month: tuple[int, int],
    months: int = 12,
    tz: tzinfo,
) -> list[tuple[str, int]]:
    """Valid complaints per company-local received month: ('YYYY-MM', count) for the `months`
    months ending with `end_month` (year, month), oldest first, months without any as 0."""
    keys = _month_range(end_month, months)
    counts = Counter(_month_key(r.received_at, tz) for r in _valid(records))
    return [(k, counts.get(k, 0)) for k in keys]


def pareto(
    records: Iterable[ComplaintRecord], *, key: Callable[[ComplaintRecord], str]
) -> list[tuple[str, int, float]]:
    """Valid complaints by `key`: (label, count, cumulative % to 1 decimal), most first, ties by
    label; an empty label counts as 'Belum terklasifikasi'."""
    counts = Counter((key(r).strip() or UNCLASSIFIED) for r in _valid(records))
    total = sum(counts.values())
    out = []
    running = 0
    for label, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        running += count
        out.append((label, count, round(100 * running / total, 1)))
    return out


def closed_on_target(
    records: Iterable[ComplaintRecord], cal: WorkCalendar
) -> tuple[int, int, float | None]:
    """(closed on target, closed with a target, % to 1 decimal or None when none): a valid closed
    complaint is on target when its company-local closing date <= `record.target` (the latest
    action target of the last cycle). Closed ones without a target and open ones are not
    counted."""
    on = counted = 0
    for r in _valid(records):
        target = r.target
        if r.closed_at is None or target is None:
            continue
        counted += 1
        if r.closed_at.astimezone(cal.tz).date() <= target:
            on += 1
    return on, counted, (round(100 * on / counted, 1) if counted else None)


def median_days_to_close(records: Iterable[ComplaintRecord], cal: WorkCalendar) -> float | None:
    """Median working days from receipt to closing over valid closed complaints (1 decimal),
    None when none is closed."""
    days = [
        cal.working_days_between(r.received_at, r.closed_at)
        for r in _valid(records)
        if r.closed_at is not None
    ]
    return _days(statistics.median(days)) if days else None


def _age_bucket(age: float) -> str:
    whole = int(age)  # whole working days elapsed: 2.9 is still '0-2'
    if whole <= 2:
        return "0-2"
    if whole <= 5:
        return "3-5"
    if whole <= 10:
        return "6-10"
    return ">10"


def open_by_age(
    records: Iterable[ComplaintRecord], *, now: datetime, cal: WorkCalendar
) -> list[tuple[str, int]]:
    """Open valid complaints (OPEN_STATUSES) by whole working days elapsed from receipt to `now`
    (fractions dropped: 2.9 days is '0-2', 10.5 is '6-10'), in the buckets '0-2', '3-5', '6-10',
    '>10', all four listed."""
    counts = Counter(
        _age_bucket(cal.working_days_between(r.received_at, now))
        for r in _valid(records)
        if r.status in states.OPEN_STATUSES
    )
    return [(b, counts.get(b, 0)) for b in AGE_BUCKETS]


@dataclass(frozen=True)
class RecapFigures:
    """The Rekapitulasi Keluhan Pelanggan of one month."""

    month: str  # 'YYYY-MM'
    total: int  # received in the month, rejected included
    valid: int
    closed: int  # of the month's valid complaints, closed as of `now`
    open: int  # of the month's valid complaints, open as of `now`
    by_category: list[tuple[str, int, float]]
    by_severity: tuple[int, int, int]  # valid complaints of the month: Mayor, Minor, Observasi
    satisfaction: Summary  # the ratings the month's complaints got after closing
    per_month: list[tuple[str, int]]  # 12 months ending with `month`
    on_target: tuple[int, int, float | None]
    median_close_days: float | None
    # Open complaints by age are not part of the recap (neither the document nor the mail
    # shows them): `open_by_age` computes them on their own.


def recap(
    records: Iterable[ComplaintRecord],
    *,
    year: int,
    month: int,
    now: datetime,
    cal: WorkCalendar,
) -> RecapFigures:
    """The month's figures. Counts, Pareto, on-target and median: complaints received in the
    company-local month. `per_month`: the 12 months ending with it (records after it are
    ignored). Open/closed are the records' statuses as loaded; `now` is not read any more (it
    aged the open complaints for `open_by_age`, which nothing in the recap showed)."""
    all_records = list(records)
    key = f"{year:04d}-{month:02d}"
    in_month = [r for r in all_records if _month_key(r.received_at, cal.tz) == key]
    valid = _valid(in_month)
    return RecapFigures(
        month=key,
        total=len(in_month),
        valid=len(valid),
        closed=sum(1 for r in valid if r.status == states.CLOSED),
        open=sum(1 for r in valid if r.status in states.OPEN_STATUSES),
        by_category=pareto(valid, key=lambda r: r.category),
        by_severity=(sum(r.severity == Severity.MAYOR for r in valid),
                     sum(r.severity == Severity.MINOR for r in valid),
                     sum(r.severity == Severity.OBSERVASI for r in valid)),
        satisfaction=summarise(r.satisfaction for r in valid),
        per_month=monthly_counts(all_records, end_month=(year, month), tz=cal.tz),
        on_target=closed_on_target(valid, cal),
        median_close_days=median_days_to_close(valid, cal),
    )


# --- the status digest -------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestItem:
    number: str
    customer: str
    department: str
    status_label: str
    what: str  # Indonesian: what is owed, or when it was closed
    due: datetime | None  # UTC; None for closed items
    days_late: float  # working days (1 decimal); 0.0 when not late


@dataclass(frozen=True)
class Digest:
    open_by_step: list[tuple[str, int]]  # (status label, count), state-machine order, zeros too
    overdue: list[DigestItem]  # most late first
    due_soon: list[DigestItem]  # soonest first
    closed_since: list[DigestItem]  # oldest closing first


def _owed(record: ComplaintRecord, cal: WorkCalendar) -> list[tuple[str, datetime]]:
    """What an open complaint owes, as the monitoring job sees it: the first response while none
    is recorded; the analysis & plan while issued (current cycle's plan_due_at); each dated
    action of the current cycle while planned (the end of its target day, `due_date_end`)."""
    out: list[tuple[str, datetime]] = []
    if record.first_response_at is None and record.first_response_due_at is not None:
        out.append(("Tanggapan pertama ke pelanggan", record.first_response_due_at))
    cycle = record.current
    if cycle is None:
        return out
    if record.status == states.ISSUED and cycle.plan_due_at is not None:
        out.append(("Analisis akar penyebab & rencana tindakan", cycle.plan_due_at))
    if record.status == states.PLANNED:
        for a in cycle.actions:
            if a.target is None:
                continue
            what = _shorten(a.corrective or a.cause or "", 80)
            label = f"Tindakan {a.no}" + (f' "{what}"' if what else "")
            out.append((f"{label} (PIC {a.pic or '-'})", due_date_end(a.target, cal)))
    return out


def digest(
    records: Iterable[ComplaintRecord],
    *,
    now: datetime,
    since: datetime | None,
    cal: WorkCalendar,
) -> Digest:
    """The status digest at `now`.

    - open_by_step: open complaints per status, every open status in state-machine order.
    - overdue: owed items (see `_owed`) with due < now, most late first (working days late).
    - due_soon: owed items with now <= due <= the end of working hours of the 2nd next working
      day after `now`'s local date (Mon 10:00 -> up to Wed 17:00), soonest first.
    - closed_since: valid complaints closed after `since`; when `since` is None (no previous
      digest) the last working day is used: since = now - 1 working day of working time
      (Mon 08:00 -> Fri 08:00), never "all closed ever".
    """
    all_records = list(records)
    open_records = [r for r in all_records if r.valid and r.status in states.OPEN_STATUSES]
    per_status = Counter(r.status for r in open_records)
    open_by_step = [
        (states.LABELS_ID[s], per_status.get(s, 0))
        for s in states.STATUSES
        if s in states.OPEN_STATUSES
    ]

    day = now.astimezone(cal.tz).date()
    horizon_day = cal.next_working_day(cal.next_working_day(day))
    horizon = due_date_end(horizon_day, cal)

    late: list[tuple[float, DigestItem]] = []
    soon: list[DigestItem] = []
    for r in open_records:
        label = states.LABELS_ID.get(r.status, r.status)
        for what, due in _owed(r, cal):
            if due < now:
                raw = overdue_by(due, now, cal)
                late.append(
                    (
                        raw,
                        DigestItem(
                            r.number, r.customer, r.department, label, what, due, _days(raw)
                        ),
                    )
                )
            elif due <= horizon:
                soon.append(DigestItem(r.number, r.customer, r.department, label, what, due, 0.0))
    late.sort(key=lambda t: (-t[0], t[1].due, t[1].number))
    soon.sort(key=lambda i: (i.due, i.number))

    start = since if since is not None else cal.add_working_days(now, -1)
    closed = sorted(
        (r for r in all_records if r.valid and r.closed_at is not None and r.closed_at > start),
        key=lambda r: (r.closed_at, r.number),
    )
    closed_items = [
        DigestItem(
            r.number,
            r.customer,
            r.department,
            states.LABELS_ID.get(r.status, r.status),
            f"Ditutup {r.closed_at.astimezone(cal.tz):%d/%m/%Y %H:%M}",
            None,
            0.0,
        )
        for r in closed
        if r.closed_at is not None
    ]
    return Digest(
        open_by_step=open_by_step,
        overdue=[i for _, i in late],
        due_soon=soon,
        closed_since=closed_items,
    )
