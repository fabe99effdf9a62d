"""Report files for marketing: chart images, the monthly recap and the closure report (Word),
the complaint register (.xlsx / .csv). Bytes out: no database, no mail, no configuration.
The figures themselves (counts, medians, lead times) are computed elsewhere and arrive here
as ready values; rendering goes through ``mailproc.forms.render.render`` (autoescaped: any text
prints exactly as written, '{{ x }}' and 'A & B < C' included). The recap's register rows and
the .xlsx data rows are written as XML here, the same text, without a template engine or
openpyxl cell per value (``render_recap``, ``register_xlsx``).

Render context of ``doc_templates/recap.docx`` (Rekapitulasi Keluhan Pelanggan)::

    company      {name, address}
    doc          {number, revision, revision_date}   document control, from configuration
    period       'November 2026'
    generated    date the recap was made, 'dd/mm/yyyy' (also the "Dibuat oleh" date)
    prepared_by  name under "Dibuat oleh" (may be empty)
    summary      figures of the period, printed as given (format them before):
                 total          complaints received in the period
                 valid          of those, valid complaints (Valid = Y)
                 closed         PTPPs closed in the period
                 open           PTPPs still open at the end of the period
                 on_target_pct  closed on or before their target date, e.g. '83% (10/12)'
                 median_days    median working days from receipt to closing, e.g. '4,5'
                 by_severity    '1 / 6 / 4' (Mayor / Minor / Observasi)
                 satisfaction   '4,2 (n = 5)'
                 repeats        repeat complaints among the period's complaints
                 open_total     every complaint open at review.as_of, whenever received
    review       the management review (ISO 9001 9.3), strings as printed:
                 as_of    'dd/mm/yyyy': the day open complaints are counted and aged at
                 steps    [{label, span, target, done, median, on_time, pct, late_open}]: the
                          lead time of each step of the procedure against its target
                 ages     [count, ...] open complaints aged 0-2, 3-5, 6-10, >10 working days
                 repeats  [{number, received, customer, product, repeat_of, status}]
    rows         the register: one list of 19 strings per complaint, in REGISTER_COLUMNS order;
                 render_recap sizes the register's columns from them (``fit_register``)
    charts       set by render_recap: [{title, image, note}]

Render context of ``doc_templates/closure.docx`` (Laporan Penutupan PTPP)::

    company, doc  as above
    ptpp_number   '001/PTPP/MKT/XI/2026'
    date          report date          closing_date  date the PTPP was closed
    prepared_by   name under "Dibuat oleh" (may be empty)
    complaint     {number, received, customer, channel, product, batch, quantity, category,
                   department, description}
    cycles        one per analysis cycle, first to last:
                  {number, correction, whys: [str] (Mengapa 1..n), category_6m, root_cause,
                   actions: [{no, cause, corrective, preventive, pic, target}],
                   documents_revised, completion_date, completion_evidence,
                   result ('Efektif' | 'Tidak efektif'), note, verifier, verification_date}
    lead          working-day lead times, already formatted ('1 hari kerja'):
                  first_response (receipt -> first response), analysis (PTPP issued ->
                  analysis and plan received), closing (receipt -> PTPP closed)

Missing keys print empty. Both templates are built by doc_templates/tools/build_templates.py
and may be edited by the company in Word.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import math
import re
import textwrap
import uuid
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from mailproc.forms.render import render

# The complaint register / recap columns of DOMAIN.md, in order.
REGISTER_COLUMNS: tuple[str, ...] = (
    "No", "No. PTPP", "Tanggal terima", "Pelanggan", "Saluran", "Produk", "No. batch/lot",
    "Qty", "Kategori", "Uraian", "Valid (Y/T)", "Bagian / PIC", "Tanggapan pertama",
    "Target selesai", "Tanggal selesai", "Lama penyelesaian (hari kerja)", "Status",
    "Retur (Y/T, no. klaim)", "Keterangan",
)

CHART_KINDS = ("per_month", "pareto", "on_target", "median", "age", "steps")
# Recap charts: two with their captions on one A4 portrait page (180 mm of text width).
CHART_WIDTH_MM = 160
CHART_SIZE_IN = (8.0, 4.75)  # 16 x 9.5 cm printed: the fonts print at about 9 pt
CHART_DPI = 150  # 1200 x 712 px
PROGRESS_EVERY = 500  # register rows between progress calls

_MONTHS_ID = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov",
              "Des")
_BAR = "#2F5597"
_BAR_LATE = "#C55A11"
_LINE = "#C00000"
_GRID = "#D9D9D9"


# ---- charts -------------------------------------------------------------------------------


def _month_label(key: str) -> str:
    """'2026-11' -> 'Nov 26'; anything else is shown as given."""
    try:
        year, month = key.split("-")[:2]
        return f"{_MONTHS_ID[int(month) - 1]} {year[-2:]}"
    except (ValueError, IndexError):
        return key


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _fmt(value: float, decimals: int = 1) -> str:
    """Indonesian number style: '4,5', '12'."""
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.{decimals}f}".replace(".", ",")


def _figure(title: str) -> tuple[Any, Any]:
    """A CHART_SIZE_IN figure not registered with pyplot, so it is freed with its last
    reference and never leaks between calls or threads."""
    import matplotlib

    matplotlib.use("Agg")  # headless, in case anything else imports pyplot later
    from matplotlib.figure import Figure

    fig = Figure(figsize=CHART_SIZE_IN, dpi=CHART_DPI)
    ax = fig.add_subplot()
    if title:
        ax.set_title(title, fontsize=15, fontweight="bold", pad=14, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=11)
    return fig, ax


def _no_data(ax: Any) -> None:
    ax.text(0.5, 0.5, "Tidak ada data", ha="center", va="center", fontsize=14,
            color="#808080", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _bars(ax: Any, labels: list[str], values: list[float | None], ylabel: str,
          *, integer: bool, decimals: int = 1, colors: list[str] | None = None) -> None:
    """Vertical bars with their value above; None (no data) is a gap: no bar, a pale band
    and a grey '\u2013' where it would stand - unlike a 0, which is a value."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    heights = [v or 0.0 for v in values]
    bars = ax.bar(range(len(labels)), heights, color=colors or _BAR, width=0.65, zorder=2)
    top = max(heights, default=0) or 1
    for x, (bar, value) in enumerate(zip(bars, values, strict=True)):
        if value is None:  # no data: a pale band, so a gap never reads as a 0
            ax.axvspan(x - 0.4, x + 0.4, color="#F2F2F2", zorder=1, linewidth=0)
        text = "\u2013" if value is None else _fmt(value, decimals)
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + top * 0.015, text,
                ha="center", va="bottom", fontsize=11,
                color="#808080" if value is None else "black")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylim(0, top * 1.15)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.yaxis.grid(True, color=_GRID, zorder=0)
    if integer:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(_tick))


def _tick(value: float, _: Any = None) -> str:
    """An axis number in Indonesian style, without trailing zeros: '17,5', '20'."""
    return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")


def _months(data: Sequence[Sequence[Any]]) -> list[str]:
    """'Nov 26' under each bar; on two lines when there are many bars (12 months)."""
    labels = [_month_label(str(k)) for k, *_ in data]
    return [label.replace(" ", "\n") for label in labels] if len(labels) > 6 else labels


def _per_month(ax: Any, data: Sequence[Sequence[Any]]) -> None:
    _bars(ax, _months(data), [_num(v[1]) for v in data], "Jumlah keluhan", integer=True)


def _median(ax: Any, data: Sequence[Sequence[Any]]) -> None:
    _bars(ax, _months(data), [_num(v[1]) for v in data], "Hari kerja", integer=False)


_AGE_COLORS = (_BAR, _BAR, "#ED7D31", _LINE)  # older than a week stands out


def _age(ax: Any, data: Sequence[Sequence[Any]]) -> None:
    """Open complaints per age bucket: [('0-2', count), ...]."""
    labels = [str(k).replace("-", "\u2013") for k, *_ in data]
    _bars(ax, labels, [_num(v[1]) for v in data], "Jumlah keluhan terbuka", integer=True,
          colors=[_AGE_COLORS[min(i, 3)] for i in range(len(labels))])
    ax.set_xlabel("Umur (hari kerja sejak diterima)", fontsize=11)


def _steps(ax: Any, data: Sequence[Sequence[Any]]) -> None:
    """Horizontal bars: the % of each step finished on time, orange under 80 % (a cue for
    the eye, said in the recap's note, not a target of the procedure). Rows are (label, %
    or None, on time, judged); a step with nothing judged shows 'belum ada data'."""
    labels = [textwrap.fill(str(row[0]), 18) for row in data]
    values = [_num(row[1]) for row in data]
    y = list(range(len(labels)))[::-1]  # the first step on top
    colors = [_BAR if (v or 0) >= 80 else _BAR_LATE for v in values]
    ax.barh(y, [v or 0.0 for v in values], color=colors, height=0.6, zorder=2)
    for yi, row, value in zip(y, data, values, strict=True):
        if value is None:
            text, color = "belum ada data", "#808080"
        else:
            text, color = f"{value:.0f}% ({row[2]}/{row[3]})", "black"
        ax.text((value or 0) + 1.5, yi, text, va="center", fontsize=10.5, color=color)
    ax.set_yticks(y, labels, fontsize=10)
    ax.set_xlim(0, 118)
    ax.set_xticks([0, 20, 40, 60, 80, 100], ["0%", "20%", "40%", "60%", "80%", "100%"])
    ax.axvline(100, color=_GRID, linewidth=1, zorder=1)
    ax.set_xlabel("Selesai dalam target", fontsize=11)
    ax.xaxis.grid(True, color=_GRID, zorder=0)


def _bar_label(text: str, width: int = 14) -> str:
    """A label under a bar, at most 3 lines of about ``width`` characters; an e-mail address
    on two lines cut after its '@', each part shortened with '\u2026' when too long."""
    if "@" in text and " " not in text.strip():
        local, _, domain = text.strip().partition("@")
        return "\n".join(part if len(part) <= width else part[:width - 1] + "\u2026"
                         for part in (local + "@", domain))
    return textwrap.fill(text, width, max_lines=3, placeholder="\u2026",
                         break_long_words=False, break_on_hyphens=False)


def _pareto(ax: Any, data: Sequence[Sequence[Any]]) -> None:
    """Bars by count (largest first, as given) and the cumulative % on a second axis. Rows
    are (label, count, cumulative %) or (label, count); a missing % is computed."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    # The axes are about 950 px wide; a character of an f-point label about 0.6 f pt at
    # 150 dpi. Each bar's label gets its share, a character less so neighbours never touch.
    size = 11 if len(data) <= 4 else 10 if len(data) <= 6 else 9
    width = max(6, int(950 / max(len(data), 1) / (0.6 * size * CHART_DPI / 72)) - 1)
    labels = [_bar_label(str(row[0]), width) for row in data]
    counts = [float(row[1]) for row in data]
    total = sum(counts) or 1.0
    cumulative: list[float] = []
    running = 0.0
    for row, count in zip(data, counts, strict=True):
        running += count
        given = _num(row[2]) if len(row) > 2 else None
        cumulative.append(given if given is not None else 100.0 * running / total)
    x = range(len(labels))
    bars = ax.bar(x, counts, color=_BAR, width=0.65, zorder=2)
    for bar, count in zip(bars, counts, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), _fmt(count),
                ha="center", va="bottom", fontsize=11)
    ax.set_xticks(x, labels, fontsize=size)
    ax.set_ylabel("Jumlah keluhan", fontsize=11)
    ax.set_ylim(0, (max(counts) or 1) * 1.35)  # the tallest bar clear of the 100% point
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.grid(True, color=_GRID, zorder=0)
    ax2 = ax.twinx()
    ax2.plot(x, cumulative, color=_LINE, marker="o", linewidth=2, zorder=3)
    for xi, pct in zip(x, cumulative, strict=True):
        ax2.annotate(f"{int(pct + 0.5)}%", (xi, pct), textcoords="offset points",
                     xytext=(0, 8), ha="center", fontsize=9.5, color=_LINE,
                     bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                           "alpha": 0.85})
    ax2.axhline(80, color=_LINE, linestyle=":", linewidth=1)
    ax2.set_ylim(0, 110)
    ax2.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax2.set_ylabel("Kumulatif", fontsize=11, color=_LINE)
    ax2.tick_params(labelsize=11, colors=_LINE)
    ax2.spines["top"].set_visible(False)


def _on_target(fig: Any, ax: Any, data: Any) -> None:
    """A donut of closed on target vs. late, with the on-target % in the middle. ``data`` is
    (on_target, late) or [(label, count), ...] with the on-target slice first."""
    if len(data) == 2 and not isinstance(data[0], Sequence):
        data = [("Tepat waktu", data[0]), ("Terlambat", data[1])]
    labels = [str(label) for label, _ in data]
    counts = [float(count or 0) for _, count in data]
    total = sum(counts)
    if not total:
        _no_data(ax)
        return
    colors = [_BAR, _BAR_LATE, "#A5A5A5", "#FFC000"][: len(counts)]
    ax.set_position((0.05, 0.06, 0.5, 0.78))
    ax.pie(counts, colors=colors, startangle=90, counterclock=False,
           wedgeprops={"width": 0.38, "edgecolor": "white", "linewidth": 2})
    ax.set_aspect("equal")
    ax.text(0, 0.08, f"{100 * counts[0] / total:.0f}%", ha="center", va="center",
            fontsize=24, fontweight="bold", color=_BAR)
    ax.text(0, -0.2, labels[0].lower(), ha="center", va="center", fontsize=11,
            color="#404040")
    y = 0.62
    for label, count, color in zip(labels, counts, colors, strict=True):
        fig.add_artist(_swatch(fig, 0.6, y, color))
        fig.text(0.64, y + 0.02, f"{label}: {_fmt(count)} ({100 * count / total:.0f}%)",
                 fontsize=13, va="center")
        y -= 0.1
    fig.text(0.6, y - 0.02, f"Jumlah PTPP selesai: {_fmt(total)}", fontsize=11,
             color="#404040", va="center")


def _swatch(fig: Any, x: float, y: float, color: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 0.025, 0.045, transform=fig.transFigure, color=color)


def chart_png(kind: str, data: Sequence[Sequence[Any]] | Sequence[float], *,
              title: str) -> bytes:
    """A chart as PNG bytes, 1200 x 712 px (16 x 9.5 cm at 190 dpi), deterministic for equal
    input.

    kind 'per_month': [('2026-11', count or None), ...], bars labelled 'Nov 26'; None is a
                      month without data, a gap (not a 0);
         'pareto':    [(label, count, cumulative %), ...] (the % may be left out), largest
                      first, bars with the cumulative % line on a second axis;
         'on_target': (closed on target, closed late) or [(label, count), ...], a donut
                      with the on-target %;
         'median':    [('2026-11', median working days or None), ...], bars, None a gap;
         'age':       [('0-2', count), ...], open complaints per age bucket;
         'steps':     [(step, % on time or None, on time, judged), ...], horizontal bars.
    ``title`` is drawn at the top left; '' draws none (when the document prints it).
    """
    if kind not in CHART_KINDS:
        raise ValueError(f"unknown chart kind {kind!r}; expected one of {CHART_KINDS}")
    fig, ax = _figure(title)
    rows = list(data)
    if not rows:
        _no_data(ax)
    elif kind == "per_month":
        _per_month(ax, rows)
    elif kind == "median":
        _median(ax, rows)
    elif kind == "pareto":
        _pareto(ax, rows)
    elif kind == "age":
        _age(ax, rows)
    elif kind == "steps":
        _steps(ax, rows)
    else:
        _on_target(fig, ax, rows)
    if kind != "on_target" or not rows:
        fig.tight_layout()
    out = io.BytesIO()
    # No 'Software' text chunk and no timestamp: equal data gives equal bytes.
    fig.savefig(out, format="png", dpi=CHART_DPI, metadata={"Software": None},
                facecolor="white")
    fig.clear()
    return out.getvalue()


# ---- Word reports -------------------------------------------------------------------------


def render_recap(template: Path | bytes, context: Mapping[str, Any],
                 charts: Sequence[tuple[str, bytes] | tuple[str, bytes, str]], *,
                 chart_width_mm: float = CHART_WIDTH_MM, strict: bool = False,
                 jinja_rows: bool = False) -> bytes:
    """The monthly recap as .docx bytes; ``charts`` are (title, PNG) or (title, PNG, note)
    shown in order (the note is printed under the chart).

    The register's column widths are set from the rows before rendering (``fit_register``):
    no column narrower than its longest word, the rest of the width where the text is.

    forms.render.render keeps the template object to itself, so each chart goes in as a
    one-off marker text that is then replaced by the inline picture (python-docx).

    The register rows do not go through Jinja: when the template's register is the plain
    kind (a ``{%tr for row in rows %}`` row, body rows whose only tags are ``{{ row[N] }}``,
    a ``{%tr endfor %}`` row; see ``_RowPlan``), docxtpl renders the template with one marker
    row in place of the loop and the rows are then written from the body row's XML with each
    value escaped as text, as ``forms.render`` would print it. Any other template, and
    ``jinja_rows=True``, renders the loop with docxtpl like the rest (the same document,
    slower: the reference the tests compare against)."""
    nonce = uuid.uuid4().hex
    markers = [f"[[chart-{n}-{nonce}]]" for n in range(len(charts))]
    ctx = dict(context)
    ctx["charts"] = [{"title": chart[0], "image": marker,
                      "note": chart[2] if len(chart) > 2 else ""}  # type: ignore[misc]
                     for chart, marker in zip(charts, markers, strict=True)]
    # A context made for the recap before the management review (and tests of the register
    # alone) prints the review's sections empty.
    ctx.setdefault("review", {"as_of": "", "steps": [], "ages": ["", "", "", ""],
                              "repeats": []})
    rows = ctx.get("rows")
    if isinstance(rows, Sequence) and not isinstance(rows, str):
        template = fit_register(template, rows)
    plan = None if jinja_rows else _RowPlan.of(template, nonce)
    rows_xml = None if plan is None else plan.rows_xml(ctx.get("rows", _MISSING), strict)
    if plan is None or rows_xml is None:
        rendered = render(template, ctx, strict=strict)
    else:
        rendered = render(plan.template, ctx, strict=strict)
    if charts:
        rendered = _place_images(
            rendered, {m: (c[0], c[1]) for m, c in zip(markers, charts, strict=True)},
            chart_width_mm)
    if plan is not None and rows_xml is not None:
        rendered = plan.splice(rendered, rows_xml)
    return rendered


# ---- the recap's register rows without Jinja ----------------------------------------------

_MISSING = object()
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_LOOP_START = re.compile(r"\s*\{%\s*tr\s+for\s+([A-Za-z_]\w*)\s+in\s+rows\s*%\}\s*")
_LOOP_END = re.compile(r"\s*\{%\s*tr\s+endfor\s*%\}\s*")
_NOT_COPIED = ("sdt", "drawing", "pict", "object", "tbl")  # such body rows go through Jinja
_TAG_SIGNS = ("{{", "}}", "{%", "%}", "{#", "#}")
# What forms.render._finalize drops: XML 1.0 cannot hold these; \a and \f would also become
# paragraphs / page breaks in docxtpl.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_RUN_START = re.compile(r"<w:r(?: [^>]*)?>")
_TEXT_START = re.compile(r"<w:t(?: [^>]*)?>")
_RUN_PROPS = re.compile(r"<w:rPr>.*?</w:rPr>", re.DOTALL)
_NS_DECL = re.compile(r'\sxmlns(?::([\w.-]+))?="([^"]*)"')


class _RowPlan:
    """The register loop of a recap template, taken apart once per render.

    ``template``: the template with the loop's rows ({%tr for%}, body, {%tr endfor%}) replaced
    by one row holding ``marker``; ``pieces`` and ``slots``: the body rows' XML as docxtpl
    would hand it to Jinja (its own ``patch_xml``), cut at each ``{{ row[N] }}``: slot k is
    (N, the run properties of the run that holds it). ``of`` gives None for a template that
    is not the plain kind; docxtpl then renders the loop itself."""

    def __init__(self, template: bytes, marker: str, pieces: list[str],
                 slots: list[tuple[int, str]]) -> None:
        self.template = template
        self.marker = marker
        self.pieces = pieces
        self.slots = slots

    @classmethod
    def of(cls, template: Path | bytes, nonce: str) -> _RowPlan | None:
        try:
            data = bytes(template) if isinstance(template, bytes | bytearray) else \
                Path(template).read_bytes()
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                root = etree.fromstring(zf.read("word/document.xml"),
                                        etree.XMLParser(resolve_entities=False))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
            return None  # render() says what is wrong with the template
        if root.nsmap.get("w") != _W:
            return None
        starts = [(tr, m) for tr in root.iter(f"{{{_W}}}tr")
                  if (m := _LOOP_START.fullmatch(_text_of(tr)))]
        if len(starts) != 1:
            return None
        start, match = starts[0]
        var = match.group(1)
        body: list[Any] = []
        end = start.getnext()
        while end is not None and end.tag == f"{{{_W}}}tr" and \
                not _LOOP_END.fullmatch(_text_of(end)):
            body.append(end)
            end = end.getnext()
        if end is None or end.tag != f"{{{_W}}}tr" or not body:
            return None
        for tr in body:
            if any(True for tag in _NOT_COPIED for _ in tr.iter(f"{{{_W}}}{tag}")):
                return None
            if any(c in (t.text or "") for t in tr.iter(f"{{{_W}}}t") for c in "\t\n\a\f"):
                return None
        body_xml = "".join(etree.tostring(tr, encoding="unicode") for tr in body)
        # The rows go back into the same document: drop the namespace declarations lxml
        # copies onto the serialized rows where the document root declares the same.
        body_xml = _NS_DECL.sub(
            lambda m: "" if root.nsmap.get(m.group(1)) == m.group(2) else m.group(0), body_xml)
        from docxtpl import DocxTemplate

        patched = DocxTemplate(io.BytesIO()).patch_xml(body_xml)
        parts = re.split(r"\{\{(.*?)\}\}", patched, flags=re.DOTALL)
        pieces = [_unescape_braces(p) for p in parts[0::2]]
        if any(sign in piece for piece in pieces for sign in _TAG_SIGNS):
            return None
        slots: list[tuple[int, str]] = []
        prefix = ""
        for k, expr in enumerate(parts[1::2]):
            m = re.fullmatch(rf"\s*{var}\s*\[\s*(\d+)\s*\]\s*", expr)
            prefix += pieces[k]
            run = list(_RUN_START.finditer(prefix))
            text = list(_TEXT_START.finditer(prefix))
            if m is None or not run or not text or text[-1].start() < prefix.rfind("</w:t>"):
                return None  # anything but {{ row[N] }} inside a run's text
            props = _RUN_PROPS.search(prefix, run[-1].start())
            slots.append((int(m.group(1)), props.group(0) if props else ""))
        # The loop's first row, emptied but for the marker, stands in for the whole loop.
        marker = f"[[rows-{nonce}]]"
        texts = list(start.iter(f"{{{_W}}}t"))
        texts[0].text = marker
        for t in texts[1:]:
            t.text = ""
        for tr in (*body, end):
            tr.getparent().remove(tr)
        document = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                  standalone=True)
        return cls(_replace_part(data, "word/document.xml", document), marker, pieces, slots)

    def rows_xml(self, rows: Any, strict: bool) -> str | None:
        """The register rows as WordprocessingML; None when docxtpl must do it instead: rows
        missing or not lists, a value that is already XML (RichText...), and under ``strict``
        a row too short for the template (Jinja then names the error)."""
        if rows is _MISSING or not isinstance(rows, Sequence) or isinstance(rows, str):
            return None
        pieces, slots = self.pieces, self.slots
        width = 1 + max((n for n, _ in slots), default=-1)
        tabs = [f'</w:t></w:r><w:r>{props}<w:tab/></w:r><w:r>{props}<w:t xml:space="preserve">'
                for _, props in slots]
        out: list[str] = []
        for row in rows:
            if not isinstance(row, list | tuple):
                return None
            if len(row) < width:
                if strict:
                    return None
                row = [*row, *[None] * (width - len(row))]
            out.append(pieces[0])
            for k, (n, _) in enumerate(slots):
                value = row[n]
                if type(value) is str and value.isprintable():  # the common case
                    out.append(value.replace("&", "&amp;").replace("<", "&lt;")
                               .replace(">", "&gt;"))
                else:
                    text = _cell_text(value, tabs[k])
                    if text is None:
                        return None
                    out.append(text)
                out.append(pieces[k + 1])
        return "".join(out)

    def splice(self, content: bytes, rows_xml: str) -> bytes:
        """``content`` (the rendered .docx) with the marker row replaced by ``rows_xml``."""
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            xml = zf.read("word/document.xml").decode("utf-8")
        at = xml.find(self.marker)
        if at < 0:  # the loop was inside something that rendered nothing
            return content
        parts = []
        while at >= 0:
            begin = max(m.start() for m in re.finditer(r"<w:tr[ >]", xml[:at]))
            end = xml.index("</w:tr>", at) + len("</w:tr>")
            parts.append(xml[:begin] + rows_xml)
            xml = xml[end:]
            at = xml.find(self.marker)
        parts.append(xml)
        return _replace_part(content, "word/document.xml", "".join(parts).encode("utf-8"))


def _text_of(el: Any) -> str:
    return "".join(t.text or "" for t in el.iter(f"{{{_W}}}t"))


def _unescape_braces(xml: str) -> str:
    """What docxtpl does to its output after Jinja (render_xml_part)."""
    return (xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%")
            .replace("%_}", "%}"))


def _cell_text(value: Any, tab: str) -> str | None:
    """One value as the XML inside a w:t, as forms.render prints it: None empty, line
    breaks as w:br, tabs as w:tab (docxtpl's resolve_listing), characters XML cannot hold
    dropped; None for a value that is XML already."""
    if value is None:
        return ""
    if hasattr(value, "__html__"):
        return None
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = _XML_ILLEGAL.sub("", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\t", tab).replace("\n", '</w:t><w:br/><w:t xml:space="preserve">')


def _replace_part(content: bytes, name: str, data: bytes) -> bytes:
    """A copy of the zip ``content`` with member ``name`` replaced, order and compression
    kept."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, data if info.filename == name else zin.read(info.filename),
                          compress_type=info.compress_type)
    return out.getvalue()


# ---- the register's column widths ---------------------------------------------------------

_TWIPS_PER_MM = 1440 / 25.4
_PT_MM = 25.4 / 72
_WORD_MAX_MM = 40.0  # a longer word (a web address) may break rather than squeeze the rest
_LINE_MAX_MM = 70.0  # what a column wants at most: longer text wraps
_FIT_SLACK = 1.02  # LibreOffice and Word round and space a little differently from the metrics
_SMALLEST_PT = 6.0  # the register's text shrinks to this, in half points, before words break
_SLOT = re.compile(r"\{\{\s*[A-Za-z_]\w*\s*\[\s*(\d+)\s*\]\s*\}\}")
# Where Word and LibreOffice may end a line inside a word (Unicode line breaking): after a
# hyphen followed by a letter ('pt-sentosa'); never before a digit ('LOT-2610-26').
_BREAK_AFTER_HYPHEN = re.compile(r"(?<=-)(?=[^\W\d_])")


def unbreakable(text: str) -> list[str]:
    """The pieces of ``text`` a line never splits: its words, cut after a hyphen that is
    followed by a letter."""
    return [p for word in text.split() for p in _BREAK_AFTER_HYPHEN.split(word)]


@dataclass(frozen=True)
class _Needs:
    """What a column's text needs, in em of its font: the widest unbreakable piece of the
    body (regular) and of the header (bold), and the longest body line."""

    piece: float
    head: float
    line: float

    def low(self, size_pt: float, header_pt: float, padding_mm: float) -> float:
        widest = max(self.piece * size_pt, self.head * header_pt) * _PT_MM
        return min(widest, _WORD_MAX_MM) * _FIT_SLACK + padding_mm

    def want(self, size_pt: float, header_pt: float, padding_mm: float) -> float:
        line = max(self.line * size_pt, self.head * header_pt) * _PT_MM
        return max(min(line, _LINE_MAX_MM) * _FIT_SLACK + padding_mm,
                   self.low(size_pt, header_pt, padding_mm))


def _needs(headers: Sequence[Sequence[str]], rows: Sequence[Sequence[Any]],
           slots: Sequence[int | None]) -> list[_Needs]:
    from mailproc.reports.textwidth import em

    out = []
    for k, slot in enumerate(slots):
        head = max((em(p, True) for p in headers[k]), default=0.0)
        piece = line = 0.0
        if slot is not None:
            texts = {str(v) for row in rows
                     if slot < len(row) and (v := row[slot]) is not None and v != ""}
            pieces = {p for t in texts for p in unbreakable(t)}
            piece = max((em(p) for p in pieces), default=0.0)
            line = max((em(ln) for t in texts for ln in t.splitlines()), default=0.0)
        out.append(_Needs(piece, head, line))
    return out


def _share(lows: list[float], wants: list[float], available: float) -> list[float]:
    """Widths adding up to ``available``: each column its minimum, the rest to the columns
    whose text wants more room, in proportion to what each wants more (as browsers lay out
    an automatic table); all shrunk in proportion when the minimums alone do not fit."""
    total_low = sum(lows)
    if total_low >= available:
        return [w * available / total_low for w in lows]
    spare = available - total_low
    more = [want - low for want, low in zip(wants, lows, strict=True)]
    if sum(more) >= spare:
        return [low + spare * m / sum(more) for low, m in zip(lows, more, strict=True)]
    rest = spare - sum(more)  # everything fits on one line: the rest by what each wants
    return [want + rest * want / sum(wants) for want in wants]


def column_widths(headers: Sequence[Sequence[str]], rows: Sequence[Sequence[Any]],
                  slots: Sequence[int | None], available_mm: float, *, size_pt: float,
                  header_size_pt: float, padding_mm: float) -> list[float]:
    """Widths in mm, adding up to ``available_mm``, for the columns of a table in Arial.
    Column k shows value ``slots[k]`` of each row (None: nothing from the rows) under the
    header pieces ``headers[k]`` (bold; the label's words, cut where it may hyphenate).

    A column's minimum is its widest unbreakable piece (``unbreakable``: a word, or a part of
    a hyphenated one) of the header or the values, plus the cell padding, so no word is
    broken in the middle (a piece wider than _WORD_MAX_MM, a long web address, may still
    break). What is left goes to the columns whose text wants more room (its longest line,
    up to _LINE_MAX_MM), in proportion to what each wants (``_share``)."""
    needs = _needs(headers, rows, slots)
    return _share([n.low(size_pt, header_size_pt, padding_mm) for n in needs],
                  [n.want(size_pt, header_size_pt, padding_mm) for n in needs], available_mm)


def _header_pieces(tc: Any) -> list[str]:
    """A header cell's words, each cut at its soft hyphens (a cut piece ends with '-', as
    printed)."""
    text = []
    for el in tc.iter(f"{{{_W}}}t", f"{{{_W}}}softHyphen", f"{{{_W}}}br", f"{{{_W}}}tab"):
        local = etree.QName(el).localname
        if local == "t":
            text.append(el.text or "")
        else:
            text.append("\u00ad" if local == "softHyphen" else " ")
    pieces = []
    for word in "".join(text).split():
        parts = word.split("\u00ad")
        pieces += [p + "-" for p in parts[:-1]] + [parts[-1]]
    return pieces


def _font_size(el: Any, default: float) -> float:
    sz = next(el.iter(f"{{{_W}}}sz"), None)
    try:
        return int(sz.get(f"{{{_W}}}val")) / 2 if sz is not None else default
    except (TypeError, ValueError):
        return default


def fit_register(template: Path | bytes, rows: Sequence[Sequence[Any]]) -> Path | bytes:
    """The recap template with its register's columns sized for ``rows`` (see
    ``column_widths``): the table holding the ``{%tr for row in rows %}`` row, its width
    kept. A template whose register is laid out otherwise (merged cells in the body row, no
    such loop) is returned as it is."""
    try:
        data = bytes(template) if isinstance(template, bytes | bytearray) else \
            Path(template).read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            root = etree.fromstring(zf.read("word/document.xml"),
                                    etree.XMLParser(resolve_entities=False))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
        return template  # render() says what is wrong with the template
    w = f"{{{_W}}}"
    starts = [tr for tr in root.iter(f"{w}tr") if _LOOP_START.fullmatch(_text_of(tr))]
    if len(starts) != 1 or starts[0].getparent().tag != f"{w}tbl":
        return template
    start = starts[0]
    table = start.getparent()
    grid = table.find(f"{w}tblGrid")
    cols = grid.findall(f"{w}gridCol") if grid is not None else []
    body = start.getnext()
    if not cols or body is None or body.tag != f"{w}tr":
        return template
    cells = body.findall(f"{w}tc")
    if len(cells) != len(cols) or body.find(f".//{w}gridSpan") is not None:
        return template
    try:
        available = sum(int(c.get(f"{w}w")) for c in cols)
    except (TypeError, ValueError):
        return template
    slots = [int(m.group(1)) if (m := _SLOT.search(_text_of(tc))) else None for tc in cells]
    head = table.find(f"{w}tr")
    head_cells = head.findall(f"{w}tc") if head is not None and head is not start else []
    if len(head_cells) != len(cols):
        head_cells = []
    headers = [_header_pieces(tc) for tc in head_cells] or [[] for _ in cols]
    padding = 0.0
    margins = table.find(f"{w}tblPr/{w}tblCellMar")
    for side in ("left", "right", "start", "end"):
        el = margins.find(f"{w}{side}") if margins is not None else None
        if el is not None and (el.get(f"{w}w") or "").isdigit():
            padding += int(el.get(f"{w}w")) / _TWIPS_PER_MM
    padding = padding or 108 * 2 / _TWIPS_PER_MM  # Word's default cell margins
    size = _font_size(body, 10.0)
    head_size = _font_size(head, 10.0) if head_cells else 10.0
    needs = _needs(headers, rows, slots)
    width = available / _TWIPS_PER_MM
    # The largest text size, in half points down to _SMALLEST_PT, at which every column
    # holds its widest word: smaller print rather than broken words.
    scale = 1.0
    while True:
        lows = [n.low(size * scale, head_size * scale, padding) for n in needs]
        if sum(lows) <= width or size * (scale - 0.5 / size) < _SMALLEST_PT:
            break
        scale -= 0.5 / size
    widths = _share(lows, [n.want(size * scale, head_size * scale, padding) for n in needs],
                    width)
    if scale < 1.0:
        for sz in itertools.chain(body.iter(f"{w}sz", f"{w}szCs"),
                                  head.iter(f"{w}sz", f"{w}szCs") if head_cells else ()):
            value = sz.get(f"{w}val") or ""
            if value.isdigit():
                sz.set(f"{w}val", str(round(int(value) * scale)))
    twips = [int(x * _TWIPS_PER_MM) for x in widths]
    twips[twips.index(max(twips))] += available - sum(twips)  # the total stays exact
    for col, value in zip(cols, twips, strict=True):
        col.set(f"{w}w", str(value))
    for tr in table.findall(f"{w}tr"):
        k = 0
        for tc in tr.findall(f"{w}tc"):
            span_el = tc.find(f"{w}tcPr/{w}gridSpan")
            span = int(span_el.get(f"{w}val", "1")) if span_el is not None else 1
            tcw = tc.find(f"{w}tcPr/{w}tcW")
            if tcw is not None:
                tcw.set(f"{w}w", str(sum(twips[k:k + span])))
                tcw.set(f"{w}type", "dxa")
            k += span
    document = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return _replace_part(data, "word/document.xml", document)


def _place_images(content: bytes, images: Mapping[str, tuple[str, bytes]],
                  width_mm: float) -> bytes:
    """Replace each marker run's text with its picture, ``width_mm`` wide (height from the
    image's aspect ratio), with the title as the picture's alt text."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Mm

    doc = Document(io.BytesIO(content))
    # Only runs holding a marker (a recap's register can have thousands of runs).
    for r in doc.element.body.xpath('.//w:r[w:t[contains(., "[[chart-")]]'):
        texts = r.findall(qn("w:t"))
        joined = "".join(t.text or "" for t in texts)
        found = next((m for m in images if m in joined), None)
        if found is None:
            continue
        title, png = images[found]
        for t in texts[1:]:
            r.remove(t)
        texts[0].text = joined.replace(found, "")
        try:
            inline = doc.part.new_pic_inline(io.BytesIO(png), Mm(width_mm), None)
        except Exception:  # noqa: BLE001 - a chart that is not a usable image: say so instead
            # of failing. python-docx's image parsing raises a bare Exception (truncated JPEG),
            # ZeroDivisionError (a PNG declaring 0 dpi), struct.error, KeyError, its own errors...
            texts[0].text += "(grafik tidak dapat ditampilkan)"
            continue
        inline.docPr.set("descr", title)
        r.add_drawing(inline)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def render_closure(template: Path, context: Mapping[str, Any], *,
                   strict: bool = False) -> bytes:
    """The closure report of one PTPP as .docx bytes (context in the module docstring)."""
    return render(template, context, strict=strict)


# ---- register exports ---------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def register_xlsx(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str,
                  progress: Callable[[int, int], None] | None = None) -> bytes:
    """The register as .xlsx bytes: sheet 'Register', bold frozen header, autofilter.

    Dates become Excel dates ('dd/mm/yyyy', datetimes 'dd/mm/yyyy hh:mm'), numbers stay
    numbers, None is an empty cell; text is never read as a formula (nor as an error value
    such as '#N/A'), characters XML cannot hold are dropped, text is cut at Excel's 32,767.
    ``title`` goes into the workbook properties. ``progress(done, total)`` is called every
    500 rows and at the end.

    openpyxl (write-only) writes the workbook: properties, styles, column widths, freeze pane,
    autofilter and the header row; the data rows are written here as sheet XML, cell for
    cell what openpyxl writes, without its per-cell objects (a third of the time)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    wb.properties.title = title
    wb.properties.creator = "mailproc"
    ws = wb.create_sheet("Register")
    total = len(rows)
    ncols = len(columns)

    # Column widths (characters) from the header and the first rows; set before any row.
    sample = rows[:200]
    for i, name in enumerate(columns):
        longest = max((_display_len(row[i]) for row in sample if i < len(row)), default=0)
        header = max(len(word) for word in str(name).split()) if str(name).strip() else 4
        width = min(max(longest, header, 6) + 2, 50)
        ws.column_dimensions[get_column_letter(i + 1)].width = width
    ws.freeze_panes = "A2"
    last = f"{get_column_letter(max(ncols, 1))}{total + 1}"
    ws.auto_filter.ref = f"A1:{last}"

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="D9D9D9")
    wrap = Alignment(wrap_text=True, vertical="center", horizontal="center")
    edge = Border(bottom=Side(style="thin"))
    head = []
    for name in columns:
        c = WriteOnlyCell(ws, value=str(name))
        c.font, c.fill, c.alignment, c.border = bold, fill, wrap, edge
        head.append(c)
    ws.append(head)
    if not total:
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    # The date styles as openpyxl numbers them (registered in the workbook's styles here).
    styles = []
    for number_format in ("dd/mm/yyyy hh:mm", "dd/mm/yyyy"):
        c = WriteOnlyCell(ws)
        c.number_format = number_format
        styles.append(c.style_id)
    marker = f"rows-{uuid.uuid4().hex}"
    ws.append([marker])
    buf = io.BytesIO()
    wb.save(buf)
    rows_xml = _sheet_rows(rows, styles[0], styles[1], progress)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        sheet = next(n for n in zf.namelist() if n.startswith("xl/worksheets/sheet"))
        xml = zf.read(sheet).decode("utf-8")
    at = xml.index(marker)
    begin = xml.rindex("<row ", 0, at)
    end = xml.index("</row>", at) + len("</row>")
    return _replace_part(buf.getvalue(), sheet,
                         (xml[:begin] + rows_xml + xml[end:]).encode("utf-8"))


# Characters an .xlsx cannot hold: openpyxl's ILLEGAL_CHARACTERS_RE and what XML 1.0 refuses.
_XLSX_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XLSX_TEXT_MAX = 32767


def _sheet_rows(rows: Sequence[Sequence[Any]], datetime_style: int, date_style: int,
                progress: Callable[[int, int], None] | None) -> str:
    """Rows 2.. of the sheet as SpreadsheetML, as openpyxl writes cells: text inline, numbers
    '%.16g', dates as serial numbers with their style, None left out."""
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.datetime import to_excel

    width = max((len(row) for row in rows), default=0)
    letters = [get_column_letter(i + 1) for i in range(width)]
    total = len(rows)
    day_serial: dict[dt.date, str] = {}  # a register has a few hundred distinct dates
    out: list[str] = []
    append = out.append
    for n, row in enumerate(rows, 1):
        r = n + 1
        append(f'<row r="{r}">')
        for letter, value in zip(letters, row, strict=False):
            kind = type(value)
            if kind is str:
                if value.isprintable() and len(value) <= _XLSX_TEXT_MAX:
                    if not value:
                        append(f'<c r="{letter}{r}" t="inlineStr"/>')
                        continue
                    text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    space = ' xml:space="preserve"' if value[0] == " " or value[-1] == " " \
                        else ""
                    append(f'<c r="{letter}{r}" t="inlineStr"><is><t{space}>{text}</t></is></c>')
                else:
                    append(_xlsx_text(f"{letter}{r}", value))
            elif value is None:
                continue
            elif kind is bool:
                append(f'<c r="{letter}{r}" t="b"><v>{int(value)}</v></c>')
            elif kind is int or kind is float or kind is Decimal:
                append(f'<c r="{letter}{r}" t="n"><v>{_xlsx_number(value)}</v></c>')
            elif isinstance(value, dt.datetime):
                serial = to_excel(value.replace(tzinfo=None))
                append(f'<c r="{letter}{r}" s="{datetime_style}" t="n"><v>{serial:.16g}</v></c>')
            elif isinstance(value, dt.date):
                serial = day_serial.get(value)
                if serial is None:
                    serial = day_serial[value] = f"{to_excel(value):.16g}"
                append(f'<c r="{letter}{r}" s="{date_style}" t="n"><v>{serial}</v></c>')
            elif isinstance(value, bool | int | float | Decimal):
                append(f'<c r="{letter}{r}" t="n"><v>{_xlsx_number(value)}</v></c>')
            else:
                append(_xlsx_text(f"{letter}{r}", str(value)))
        append("</row>")
        if progress and (n % PROGRESS_EVERY == 0 or n == total):
            progress(n, total)
    return "".join(out)


def _xlsx_number(value: Any) -> str:
    """'%.16g' as openpyxl writes numbers; NaN and infinities as an empty value."""
    if isinstance(value, int):
        return f"{value:.16g}"
    number = float(value)
    return "" if math.isnan(number) or math.isinf(number) else f"{number:.16g}"


def _xlsx_text(ref: str, value: str) -> str:
    """An inline text cell for any string: characters an .xlsx cannot hold dropped, cut at
    32,767 characters, '\\r' kept as a character reference (lxml's way)."""
    value = _XLSX_ILLEGAL.sub("", value)[:_XLSX_TEXT_MAX]
    if not value:
        return f'<c r="{ref}" t="inlineStr"/>'
    text = (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _display_len(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, dt.datetime):
        return 16
    if isinstance(value, dt.date):
        return 10
    return len(str(value).split("\n", 1)[0])


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "Y" if value else "T"
    text = str(value)
    # A spreadsheet would run '=HYPERLINK(...)' from a customer's text: keep it text.
    if isinstance(value, str) and text.startswith(_FORMULA_START) and text.strip("-"):
        return "'" + text
    return text


def register_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """The register as CSV: UTF-8 with a BOM (so Excel reads Indonesian text right), comma
    separated, minimal quoting, dates yyyy-mm-dd, None empty, booleans Y/T. Text starting
    with = + - @ gets a leading apostrophe so spreadsheets do not run it as a formula."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL)
    writer.writerow([str(c) for c in columns])
    writer.writerows([_csv_text(v) for v in row] for row in rows)
    return buf.getvalue().encode("utf-8-sig")
