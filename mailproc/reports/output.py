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
import re
import textwrap
import uuid
import zipfile
from collections.abc import Callable, Mapping, Sequence
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


def render_recap(template: Path | bytes, context: Mapping[str, Any],
                 charts: Sequence[tuple[str, bytes]], *,
                 chart_width_mm: float = CHART_WIDTH_MM, strict: bool = False,
                 jinja_rows: bool = False) -> bytes:
    """The monthly recap as .docx bytes; ``charts`` are (title, PNG) pairs shown in order.

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
    ctx["charts"] = [{"title": title, "image": marker}
                     for (title, _), marker in zip(charts, markers, strict=True)]
    plan = None if jinja_rows else _RowPlan.of(template, nonce)
    rows_xml = None if plan is None else plan.rows_xml(ctx.get("rows", _MISSING), strict)
    if plan is None or rows_xml is None:
        rendered = render(template, ctx, strict=strict)
    else:
        rendered = render(plan.template, ctx, strict=strict)
    if charts:
        rendered = _place_images(rendered, dict(zip(markers, charts, strict=True)),
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
