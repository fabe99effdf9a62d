"""The fields of the two Word forms and the rules a returned form must meet.

Forms: the PTPP (FM-MR-15, key ``'ptpp'``) that the responsible department fills in and the
return-claim form (BKI.FM.MKT.06, key ``'retur'``) that the customer fills in. Each field is a
Word content control whose tag (and alias) is ``FieldSpec.name``; ``FieldSpec.label`` is the
text printed next to it, so a form whose controls were lost can still be read by its labels.

Steps of the PTPP: ``'plan'`` (root-cause analysis and action plan), ``'implement'`` (actions
reported done), ``'verify'`` (effectiveness evaluated by marketing administration); the return
form has the single step ``'claim'``. ``FieldSpec.required_for`` names the steps whose rules read
the field: a template without it cannot serve that step (the action table needs at least its
first row, later rows are optional).

Pure: standard library only, no I/O, no clock reads (``issued_on`` is passed in).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

PLAN, IMPLEMENT, VERIFY, CLAIM = "plan", "implement", "verify", "claim"
STEPS = (PLAN, IMPLEMENT, VERIFY, CLAIM)

TEXT, DATE, DROPDOWN, CHECKBOX = "text", "date", "dropdown", "checkbox"

ACTION_ROWS = 5
ITEM_ROWS = 5

CATEGORIES_6M = ("Manusia", "Mesin", "Metode", "Material", "Pengukuran", "Lingkungan")
VERIFICATION_RESULTS = ("Efektif", "Tidak efektif")
VERIFICATION_STATUSES = ("Open", "Closed")
CLAIM_DECISIONS = ("Disetujui", "Ditolak")
CLAIM_SETTLEMENTS = ("Ganti barang", "Nota kredit", "Potong tagihan", "Refund",
                     "Klaim ke ekspedisi")

# Column key -> header printed above the column of the action table / items table.
ACTION_COLUMNS = (
    ("cause", "Penyebab"),
    ("corrective", "Tindakan korektif"),
    ("preventive", "Tindakan pencegahan"),
    ("pic", "PIC"),
    ("target", "Target tanggal"),
)
ITEM_COLUMNS = (
    ("name", "Kode / nama barang"),
    ("batch", "Batch / lot"),
    ("qty_sent", "Qty kirim"),
    ("qty_return", "Qty retur"),
    ("unit", "Satuan"),
)

DATE_HINT = "gunakan format dd/mm/yyyy"


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the content control's tag (and alias)
    kind: str  # 'text' | 'date' | 'dropdown' | 'checkbox'
    label: str  # the Indonesian label printed on the form (the label fallback matches it)
    required_for: frozenset[str] = frozenset()
    options: tuple[str, ...] = ()
    multiline: bool = False  # a text control that takes line breaks


def _f(name: str, kind: str, label: str, *steps: str, options: tuple[str, ...] = (),
       multiline: bool = False) -> FieldSpec:
    return FieldSpec(name, kind, label, frozenset(steps), options, multiline)


def _action_fields() -> list[FieldSpec]:
    fields = []
    for n in range(1, ACTION_ROWS + 1):
        for key, header in ACTION_COLUMNS:
            # Row 1 must exist for a plan; which row the department uses is free.
            needed = (PLAN, IMPLEMENT) if n == 1 and key in ("corrective", "pic", "target") else ()
            kind = DATE if key == "target" else TEXT
            fields.append(_f(f"action_{n}_{key}", kind, header, *needed,
                             multiline=key in ("cause", "corrective", "preventive")))
    return fields


def _item_fields() -> list[FieldSpec]:
    fields = []
    for n in range(1, ITEM_ROWS + 1):
        for key, header in ITEM_COLUMNS:
            needed = (CLAIM,) if n == 1 and key in ("name", "qty_return") else ()
            fields.append(_f(f"item_{n}_{key}", TEXT, header, *needed))
    return fields


PTPP_SOURCES = (
    ("source_internal_audit", "Audit Internal"),
    ("source_external_audit", "Audit Eksternal"),
    ("source_customer_complaint", "Keluhan Pelanggan"),
    ("source_nonconforming_product", "Produk Tidak Sesuai"),
    ("source_management_review", "Tinjauan Manajemen"),
    ("source_other", "Lain-lain"),
)

RETURN_REASONS = (
    ("reason_damaged", "Rusak / cacat"),
    ("reason_packaging", "Kemasan rusak"),
    ("reason_wrong_item", "Salah kirim"),
    ("reason_quantity", "Kurang / lebih kirim"),
    ("reason_expired", "Kedaluwarsa"),
    ("reason_spec", "Tidak sesuai spesifikasi"),
    ("reason_other", "Lainnya"),
)

PTPP_FIELDS: tuple[FieldSpec, ...] = (
    _f("ptpp_number", TEXT, "No. PTPP", PLAN, IMPLEMENT, VERIFY),
    _f("cycle", TEXT, "Siklus"),
    *(_f(name, CHECKBOX, label) for name, label in PTPP_SOURCES),
    _f("correction", TEXT, "Koreksi / tindakan segera", multiline=True),
    _f("correction_date", DATE, "Tanggal koreksi"),
    _f("correction_by", TEXT, "Pelaksana"),
    *(_f(f"why_{n}", TEXT, f"Mengapa {n}", *((PLAN, IMPLEMENT) if n == 1 else ()))
      for n in range(1, 6)),
    _f("category_6m", DROPDOWN, "Kategori 6M", options=CATEGORIES_6M),
    _f("root_cause", TEXT, "Akar penyebab", PLAN, IMPLEMENT, multiline=True),
    *_action_fields(),
    _f("documents_revised", TEXT, "Dokumen yang direvisi", multiline=True),
    _f("completion_date", DATE, "Tanggal selesai aktual", IMPLEMENT),
    _f("completion_evidence", TEXT, "Bukti penyelesaian", IMPLEMENT, multiline=True),
    _f("verification_result", DROPDOWN, "Hasil verifikasi", VERIFY,
       options=VERIFICATION_RESULTS),
    _f("verification_status", DROPDOWN, "Status", options=VERIFICATION_STATUSES),
    _f("verification_note", TEXT, "Catatan evaluasi", VERIFY, multiline=True),
    _f("verification_date", DATE, "Tanggal verifikasi", VERIFY),
    _f("verifier", TEXT, "Verifikator"),
    _f("new_ptpp_number", TEXT, "No. PTPP baru"),
)

RETURN_FIELDS: tuple[FieldSpec, ...] = (
    _f("claim_number", TEXT, "No. Klaim", CLAIM),
    _f("ptpp_number", TEXT, "No. PTPP"),
    _f("contact", TEXT, "Kontak"),
    _f("po", TEXT, "No. PO"),
    _f("delivery_note", TEXT, "No. Surat Jalan"),
    _f("invoice", TEXT, "No. Faktur"),
    *_item_fields(),
    *(_f(name, CHECKBOX, label, CLAIM) for name, label in RETURN_REASONS),
    _f("reason_other_text", TEXT, "Lainnya, sebutkan"),
    _f("customer_note", TEXT, "Keterangan tambahan", multiline=True),
    _f("qc_result", TEXT, "Hasil pemeriksaan QC / gudang", multiline=True),
    _f("decision", DROPDOWN, "Keputusan", options=CLAIM_DECISIONS),
    _f("decision_reason", TEXT, "Alasan keputusan", multiline=True),
    _f("settlement", DROPDOWN, "Penyelesaian", options=CLAIM_SETTLEMENTS),
)

FORMS: Mapping[str, tuple[FieldSpec, ...]] = {"ptpp": PTPP_FIELDS, "retur": RETURN_FIELDS}


def field_map(form: str) -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in FORMS[form]}


# ---- dates --------------------------------------------------------------------------------

_MONTHS = {
    1: ("januari", "january", "jan"),
    2: ("februari", "pebruari", "february", "feb", "peb"),
    3: ("maret", "march", "mar"),
    4: ("april", "apr"),
    5: ("mei", "may"),
    6: ("juni", "june", "jun"),
    7: ("juli", "july", "jul"),
    8: ("agustus", "august", "agu", "agt", "ags", "aug"),
    9: ("september", "sept", "sep"),
    10: ("oktober", "october", "okt", "oct"),
    11: ("november", "nopember", "nov", "nop"),
    12: ("desember", "december", "des", "dec"),
}
_MONTH_BY_NAME = {name: month for month, names in _MONTHS.items() for name in names}

# Matched after lower-casing: Word's '2026-11-30T00:00:00Z' arrives as '2026-11-30t00:00:00z'.
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[t ][\d:.]*(?:z|[+-]\d{2}:?\d{2})?)?")
_NUMERIC = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4}|\d{2})")
# Optional weekday ("Senin, 30 November 2026" is Word's long Indonesian format).
_DAY_MONTH_YEAR = re.compile(r"(?:[a-z]+,?\s+)?(\d{1,2})[\s./-]*([a-z]+)\.?[\s./,-]*(\d{4})")
_MONTH_DAY_YEAR = re.compile(r"([a-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})")


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    """A date as people and Word write it in Indonesia (day first), or None when unreadable.

    Accepts dd/mm/yyyy, d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy, dd/mm/yy, yyyy-mm-dd, the ISO
    datetime Word stores in ``w:fullDate`` ('2026-11-30T00:00:00Z'), and month names in
    Indonesian or English, full or short ('30 November 2026', '30 Nov 2026', '17 Agt 2026',
    'Senin, 30 November 2026'). Impossible dates (31/02/2026) give None.
    """
    s = " ".join(text.strip().lower().split())
    if not s:
        return None
    if m := _ISO.fullmatch(s):
        return _make(int(m[1]), int(m[2]), int(m[3]))
    if m := _NUMERIC.fullmatch(s):
        year = int(m[3])
        if len(m[3]) == 2:
            year += 2000
        return _make(year, int(m[2]), int(m[1]))
    if (m := _DAY_MONTH_YEAR.fullmatch(s)) and m[2] in _MONTH_BY_NAME:
        return _make(int(m[3]), _MONTH_BY_NAME[m[2]], int(m[1]))
    if (m := _MONTH_DAY_YEAR.fullmatch(s)) and m[1] in _MONTH_BY_NAME:
        return _make(int(m[3]), _MONTH_BY_NAME[m[1]], int(m[2]))
    return None


def format_date(value: date) -> str:
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


# ---- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One filled row of the PTPP action table, as the form workflow and the reports see it.
    ``target`` is ``target_raw`` parsed (None when empty or unreadable); ``target_raw`` is the
    target as written on the form, '' for an action that was not read from one."""

    no: int
    cause: str
    corrective: str
    preventive: str
    pic: str
    target: date | None
    target_raw: str = ""


def _get(values: Mapping[str, str], name: str) -> str:
    return (values.get(name) or "").strip()


def actions_from(values: Mapping[str, str]) -> tuple[Action, ...]:
    """The rows of the action table that have any cell filled, in row order."""
    actions = []
    for n in range(1, ACTION_ROWS + 1):
        cells = {key: _get(values, f"action_{n}_{key}") for key, _ in ACTION_COLUMNS}
        if not any(cells.values()):
            continue
        actions.append(Action(
            no=n, cause=cells["cause"], corrective=cells["corrective"],
            preventive=cells["preventive"], pic=cells["pic"],
            target=parse_date(cells["target"]), target_raw=cells["target"],
        ))
    return tuple(actions)


def detect_step(values: Mapping[str, str]) -> str:
    """Which PTPP step a returned form answers: the furthest part that has been filled."""
    if _get(values, "verification_result"):
        return VERIFY
    if _get(values, "completion_date") or _get(values, "completion_evidence"):
        return IMPLEMENT
    return PLAN


# ---- validation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with a returned form. ``str()`` reads as an Indonesian sentence:
    label + message, e.g. 'Tindakan baris 2: PIC wajib diisi'."""

    field: str
    label: str
    message: str

    def __str__(self) -> str:
        return f"{self.label} {self.message}"


REQUIRED = "wajib diisi"


def _unreadable(raw: str) -> str:
    return f"tidak dapat dibaca sebagai tanggal: '{raw}' ({DATE_HINT})"


def _before_issue(issued_on: date) -> str:
    return f"tidak boleh sebelum tanggal terbit PTPP ({format_date(issued_on)})"


def _option_problem(spec: FieldSpec, raw: str) -> FieldProblem | None:
    if raw.casefold() in {o.casefold() for o in spec.options}:
        return None
    return FieldProblem(spec.name, spec.label,
                        f"harus salah satu dari: {', '.join(spec.options)} (tertulis '{raw}')")


def _label(spec: FieldSpec) -> str:
    m = re.fullmatch(r"(action|item)_(\d+)_\w+", spec.name)
    if m:
        row = "Tindakan" if m[1] == "action" else "Barang"
        return f"{row} baris {m[2]}: {spec.label}"
    return spec.label


def _common_problems(values: Mapping[str, str], fields: tuple[FieldSpec, ...],
                     skip: set[str]) -> list[FieldProblem]:
    """Every filled date must be readable, every filled dropdown one of its options."""
    problems = []
    for spec in fields:
        raw = _get(values, spec.name)
        if not raw or spec.name in skip:
            continue
        if spec.kind == DATE and parse_date(raw) is None:
            problems.append(FieldProblem(spec.name, _label(spec), _unreadable(raw)))
        elif spec.kind == DROPDOWN and (p := _option_problem(spec, raw)):
            problems.append(p)
    return problems


def _plan_problems(values: Mapping[str, str], issued_on: date) -> list[FieldProblem]:
    specs = field_map("ptpp")
    problems = []
    if not _get(values, "ptpp_number"):
        problems.append(FieldProblem("ptpp_number", "No. PTPP", REQUIRED))
    if not _get(values, "root_cause") and not _get(values, "why_1"):
        problems.append(FieldProblem("root_cause", "Akar penyebab",
                                     f"{REQUIRED} (atau minimal Mengapa 1)"))
    actions = actions_from(values)
    if not actions:
        problems.append(FieldProblem(
            "action_1_corrective", "Rencana tindakan",
            f"{REQUIRED}: minimal satu baris dengan tindakan korektif, PIC dan target tanggal"))
    for action in actions:
        for key, raw in (("corrective", action.corrective), ("pic", action.pic),
                         ("target", action.target_raw)):
            spec = specs[f"action_{action.no}_{key}"]
            if not raw:
                problems.append(FieldProblem(spec.name, _label(spec), REQUIRED))
        spec = specs[f"action_{action.no}_target"]
        if action.target_raw and action.target is None:
            problems.append(FieldProblem(spec.name, _label(spec), _unreadable(action.target_raw)))
        elif action.target is not None and action.target < issued_on:
            problems.append(FieldProblem(spec.name, _label(spec), _before_issue(issued_on)))
    return problems


def _implement_problems(values: Mapping[str, str], issued_on: date,
                        today: date | None) -> list[FieldProblem]:
    problems = []
    raw = _get(values, "completion_date")
    label = "Tanggal selesai aktual"
    if not raw:
        problems.append(FieldProblem("completion_date", label, REQUIRED))
    elif (done := parse_date(raw)) is None:
        problems.append(FieldProblem("completion_date", label, _unreadable(raw)))
    elif done < issued_on:
        problems.append(FieldProblem("completion_date", label, _before_issue(issued_on)))
    elif today is not None and done > today:
        # Done is done: a date still to come is a plan, not a completion.
        problems.append(FieldProblem(
            "completion_date", label,
            f"tidak boleh di masa depan (hari ini {format_date(today)}); isi tanggal tindakan "
            "benar-benar selesai, atau kirim formulir setelah tindakan selesai"))
    if not _get(values, "completion_evidence"):
        problems.append(FieldProblem("completion_evidence", "Bukti penyelesaian", REQUIRED))
    return problems


def _verify_problems(values: Mapping[str, str]) -> list[FieldProblem]:
    specs = field_map("ptpp")
    problems = []
    result = _get(values, "verification_result")
    if not result:
        problems.append(FieldProblem("verification_result", "Hasil verifikasi", REQUIRED))
    elif p := _option_problem(specs["verification_result"], result):
        problems.append(p)
    if not _get(values, "verification_note"):
        problems.append(FieldProblem("verification_note", "Catatan evaluasi", REQUIRED))
    raw = _get(values, "verification_date")
    if not raw:
        problems.append(FieldProblem("verification_date", "Tanggal verifikasi", REQUIRED))
    elif parse_date(raw) is None:
        problems.append(FieldProblem("verification_date", "Tanggal verifikasi", _unreadable(raw)))
    return problems


_QTY = re.compile(r"\s*(\d{1,3}(?:\.\d{3})+|\d+(?:[.,]\d+)?)(?![\d.,])")


def parse_quantity(text: str) -> float | None:
    """'12', '12 pcs', '1.000', '2,5 kg' -> a number; None when there is none."""
    m = _QTY.match(text)
    if not m:
        return None
    number = m[1]
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", number):  # Indonesian thousands separator
        number = number.replace(".", "")
    return float(number.replace(",", "."))


def _claim_problems(values: Mapping[str, str]) -> list[FieldProblem]:
    specs = field_map("retur")
    problems = []
    if not _get(values, "claim_number"):
        problems.append(FieldProblem("claim_number", "No. Klaim", REQUIRED))
    complete_rows = 0
    for n in range(1, ITEM_ROWS + 1):
        cells = {key: _get(values, f"item_{n}_{key}") for key, _ in ITEM_COLUMNS}
        if not any(cells.values()):
            continue
        for key in ("name", "qty_return"):
            if not cells[key]:
                spec = specs[f"item_{n}_{key}"]
                problems.append(FieldProblem(spec.name, _label(spec), REQUIRED))
        returned = parse_quantity(cells["qty_return"]) if cells["qty_return"] else None
        sent = parse_quantity(cells["qty_sent"]) if cells["qty_sent"] else None
        spec = specs[f"item_{n}_qty_return"]
        if cells["qty_return"] and (returned is None or returned <= 0):
            problems.append(FieldProblem(spec.name, _label(spec),
                                         f"harus berupa angka lebih dari 0 (tertulis "
                                         f"'{cells['qty_return']}')"))
        elif returned is not None and sent is not None and returned > sent:
            problems.append(FieldProblem(spec.name, _label(spec),
                                         f"tidak boleh melebihi qty kirim ({cells['qty_sent']})"))
        if cells["name"] and cells["qty_return"]:
            complete_rows += 1
    if complete_rows == 0 and not any(p.field.startswith("item_") for p in problems):
        problems.append(FieldProblem(
            "item_1_name", "Barang yang diretur",
            f"{REQUIRED}: minimal satu baris dengan kode/nama barang dan qty retur"))
    if not any(_get(values, name) == "1" for name, _ in RETURN_REASONS):
        problems.append(FieldProblem("reason_damaged", "Alasan retur",
                                     "wajib dipilih (minimal satu)"))
    if _get(values, "reason_other") == "1" and not _get(values, "reason_other_text"):
        problems.append(FieldProblem("reason_other_text", "Alasan lainnya",
                                     f"{REQUIRED} bila 'Lainnya' dipilih"))
    return problems


def validate(values: Mapping[str, str], step: str, *, issued_on: date,
             today: date | None = None) -> list[FieldProblem]:
    """What keeps a returned form from counting for ``step``; [] when it is complete.

    plan: root cause (or at least Mengapa 1) and at least one action row with corrective
    action, PIC and a readable target date not before the issue date; half-filled rows are
    named. implement: the plan rules plus the completion date (readable, not before the issue
    date, not after `today` when given) and the evidence. verify: result (one of the
    options), evaluation note and date.
    claim: at least one item with name and quantity returned, and a reason ticked. In every
    step any filled date must be readable and any filled dropdown one of its options.
    """
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
    if step == CLAIM:
        return _claim_problems(values) + _common_problems(values, RETURN_FIELDS, set())
    problems: list[FieldProblem] = []
    if step in (PLAN, IMPLEMENT):
        problems += _plan_problems(values, issued_on)
    if step == IMPLEMENT:
        problems += _implement_problems(values, issued_on, today)
    if step == VERIFY:
        problems += _verify_problems(values)
    # Dates and dropdowns the step rules already reported are not repeated.
    reported = {p.field for p in problems}
    return problems + _common_problems(values, PTPP_FIELDS, reported)
