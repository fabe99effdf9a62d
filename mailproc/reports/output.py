"""Report files for marketing: chart images, the monthly recap and the closure report (Word),
the complaint register (.xlsx / .csv). Bytes out: no database, no mail, no configuration.
The figures themselves (counts, medians, lead times) are computed elsewhere and arrive here
as ready values; rendering goes through ``mailproc.forms.render.render`` (autoescaped: any text
prints exactly as written, '{{ x }}' and 'A & B < C' included).

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
    rows         the register: one list of 19 strings per complaint, in REGISTER_COLUMNS order
    charts       set by render_recap: [{title, image}]

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
import math
import textwrap
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from mailproc.forms.render import render

# The complaint register / recap columns of DOMAIN.md, in order.
REGISTER_COLUMNS: tuple[str, ...] = (
    "No", "No. PTPP", "Tanggal terima", "Pelanggan", "Saluran", "Produk", "No. batch/lot",
    "Qty", "Kategori", "Uraian", "Valid (Y/T)", "Bagian / PIC", "Tanggapan pertama",
    "Target selesai", "Tanggal selesai", "Lama penyelesaian (hari kerja)", "Status",
    "Retur (Y/T, no. klaim)", "Keterangan",
)

CHART_KINDS = ("per_month", "pareto", "on_target", "median")
CHART_WIDTH_MM = 240  # recap charts: the landscape text width is 267 mm
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
    """A 10 x 5 inch figure (1000 x 500 px at 100 dpi) not registered with pyplot, so it is
    freed with its last reference and never leaks between calls or threads."""
    import matplotlib

    matplotlib.use("Agg")  # headless, in case anything else imports pyplot later
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5), dpi=100)
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
          *, integer: bool, decimals: int = 1) -> None:
    """Vertical bars with their value above; None is a gap marked '\u2013'."""
    from matplotlib.ticker import MaxNLocator

    heights = [v or 0.0 for v in values]
    bars = ax.bar(range(len(labels)), heights, color=_BAR, width=0.65, zorder=2)
    top = max(heights, default=0) or 1
    for bar, value in zip(bars, values, strict=True):
        text = "\u2013" if value is None else _fmt(value, decimals)
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + top * 0.015, text,
                ha="center", va="bottom", fontsize=11)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(0, top * 1.15)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.yaxis.grid(True, color=_GRID, zorder=0)
    if integer:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _per_month(ax: Any, data: Sequence[Sequence[Any]]) -> None:
    _bars(ax, [_month_label(str(k)) for k, *_ in data], [_num(v[1]) for v in data],
          "Jumlah keluhan", integer=True)


def _median(ax: Any, data: Sequence[Sequence[Any]]) -> None:
    _bars(ax, [_month_label(str(k)) for k, *_ in data], [_num(v[1]) for v in data],
          "Hari kerja", integer=False)


def _pareto(ax: Any, data: Sequence[Sequence[Any]]) -> None:
    """Bars by count (largest first, as given) and the cumulative % on a second axis. Rows
    are (label, count, cumulative %) or (label, count); a missing % is computed."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    labels = [textwrap.fill(str(row[0]), 14, max_lines=3, placeholder="\u2026") for row in data]
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
    ax.set_xticks(x, labels, fontsize=10 if len(labels) > 7 else 11)
    ax.set_ylabel("Jumlah keluhan", fontsize=11)
    ax.set_ylim(0, (max(counts) or 1) * 1.15)
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
    """A chart as PNG bytes, about 1000 x 500 px at 100 dpi, deterministic for equal input.

    kind 'per_month': [('2026-11', count), ...], bars labelled 'Nov 26';
         'pareto':    [(label, count, cumulative %), ...] (the % may be left out), largest
                      first, bars with the cumulative % line on a second axis;
         'on_target': (closed on target, closed late) or [(label, count), ...], a donut
                      with the on-target %;
         'median':    [('2026-11', median working days or None), ...], bars.
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
    else:
        _on_target(fig, ax, rows)
    if kind != "on_target" or not rows:
        fig.tight_layout()
    out = io.BytesIO()
    # No 'Software' text chunk and no timestamp: equal data gives equal bytes.
    fig.savefig(out, format="png", dpi=100, metadata={"Software": None},
                facecolor="white")
    fig.clear()
    return out.getvalue()


# ---- Word reports -------------------------------------------------------------------------


def render_recap(template: Path, context: Mapping[str, Any],
                 charts: Sequence[tuple[str, bytes]], *,
                 chart_width_mm: float = CHART_WIDTH_MM, strict: bool = False) -> bytes:
    """The monthly recap as .docx bytes; ``charts`` are (title, PNG) pairs shown in order.

    forms.render.render keeps the template object to itself, so each chart goes in as a
    one-off marker text that is then replaced by the inline picture (python-docx)."""
    nonce = uuid.uuid4().hex
    markers = [f"[[chart-{n}-{nonce}]]" for n in range(len(charts))]
    ctx = dict(context)
    ctx["charts"] = [{"title": title, "image": marker}
                     for (title, _), marker in zip(charts, markers, strict=True)]
    rendered = render(template, ctx, strict=strict)
    if not charts:
        return rendered
    return _place_images(rendered, dict(zip(markers, charts, strict=True)), chart_width_mm)


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
    numbers, None is an empty cell; text is never read as a formula. ``title`` goes into
    the workbook properties. ``progress(done, total)`` is called every 500 rows and at the
    end."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
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

    for n, row in enumerate(rows, 1):
        out: list[Any] = []
        for value in row:
            if isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
                if value.startswith("="):  # openpyxl would store it as a formula
                    c = WriteOnlyCell(ws, value=value)
                    c.data_type = "s"
                    out.append(c)
                    continue
                out.append(value)
            elif isinstance(value, dt.datetime):
                c = WriteOnlyCell(ws, value=value.replace(tzinfo=None))
                c.number_format = "dd/mm/yyyy hh:mm"
                out.append(c)
            elif isinstance(value, dt.date):
                c = WriteOnlyCell(ws, value=value)
                c.number_format = "dd/mm/yyyy"
                out.append(c)
            elif isinstance(value, Decimal):
                out.append(float(value))
            else:
                out.append(value)  # int, float, bool, None
        ws.append(out)
        if progress and (n % PROGRESS_EVERY == 0 or n == total):
            progress(n, total)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


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
