"""Generate the Word templates in doc_templates/: the forms ptpp.docx and retur.docx, and the
reports recap.docx (monthly complaint recap, A4 landscape) and closure.docx (PTPP closure
report).

    python doc_templates/tools/build_templates.py [--out DIR]

The generated files are committed; the company may edit them in Word afterwards (logo, exact
layout, a new revision). mailproc never runs this script: it reads whatever template file is
configured, so this script only makes the starting layout reproducible and reviewable.

All four carry the controlled-document header block (logo | title + company |
No. Dokumen, No. Revisi, Tanggal Revisi, Halaman x / y) in the page header, so it repeats on
every page. The forms are A4 portrait; in them every field the recipient fills is a Word
content control whose tag and alias are the FieldSpec name from mailproc.domain.forms; each
label sits in the table cell left of its control (or above its column), so a form whose
controls were lost can be read by its labels.
Values from mailproc's render context are docxtpl (Jinja) expressions inside w:t text only, so
the template stays valid OOXML that Word opens and saves. The reports have no content
controls: they are read, not filled; their render contexts are documented in
mailproc/reports.py.
"""

from __future__ import annotations

import argparse
import io
import itertools
import sys
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from lxml.etree import _Element as El

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from mailproc.domain import forms  # noqa: E402
from mailproc.domain.forms import FieldSpec  # noqa: E402

FONT = "Arial"  # Liberation Sans (metric-compatible) or DejaVu Sans where Arial is missing
BOX_FONT = "MS Gothic"  # Word's own checkbox font; others fall back to a font with U+2610
SIZE = 10  # pt
SMALL = 8.5
UNCHECKED, CHECKED = "\u2610", "\u2612"

PLACEHOLDER_TEXT = "Klik untuk mengisi"
PLACEHOLDER_CELL = "\u2026"  # narrow table cells: an ellipsis instead of a sentence
PLACEHOLDER_DATE = "dd/mm/yyyy"
PLACEHOLDER_CHOICE = "Pilih salah satu"

HEADING_FILL = "D9D9D9"
SUBHEADING_FILL = "EDEDED"
LABEL_FILL = "F5F5F5"
BORDER_COLOR = "000000"

TEXT_WIDTH_MM = 180  # A4 210 mm less 15 mm margins each side
LANDSCAPE_WIDTH_MM = 277  # A4 landscape 297 mm less 10 mm margins each side

Cell = tuple[Any, int, dict[str, str]]  # (content, grid columns spanned, options)

_ids = itertools.count(1001)  # stable w:id values: the same build gives the same XML


def twips(mm: float) -> int:
    return round(mm * 1440 / 25.4)


def _el(tag: str, **attrs: str) -> El:
    el = OxmlElement(tag)
    for key, value in attrs.items():
        el.set(qn(key.replace("_", ":", 1)), str(value))
    return el


def _sub(parent: El, tag: str, **attrs: str) -> El:
    el = _el(tag, **attrs)
    parent.append(el)
    return el


# ---- runs and paragraphs ------------------------------------------------------------------


def run(text: str = "", *, b: bool = False, i: bool = False, size: float | None = None,
        color: str | None = None, font: str | None = None, style: str | None = None) -> El:
    """A w:r; '\n' in text becomes a line break, '\t' a tab."""
    r = _el("w:r")
    rpr = _sub(r, "w:rPr")
    if style:
        _sub(rpr, "w:rStyle", w_val=style)
    if font:
        _sub(rpr, "w:rFonts", w_ascii=font, w_hAnsi=font, w_eastAsia=font, w_cs=font)
    if b:
        _sub(rpr, "w:b")
    if i:
        _sub(rpr, "w:i")
    if color:
        _sub(rpr, "w:color", w_val=color)
    if size:
        _sub(rpr, "w:sz", w_val=str(round(size * 2)))
        _sub(rpr, "w:szCs", w_val=str(round(size * 2)))
    if len(rpr) == 0:
        r.remove(rpr)
    for n, line in enumerate(text.split("\n")):
        if n:
            _sub(r, "w:br")
        for m, chunk in enumerate(line.split("\t")):
            if m:
                _sub(r, "w:tab")
            if chunk:
                t = _sub(r, "w:t")
                t.text = chunk
                t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return r


def para(*content: str | El, align: str | None = None, keep_next: bool = False,
         before: float = 0, after: float = 0, tabs: tuple[float, ...] = (),
         line: float | None = None) -> El:
    """A w:p holding runs (strings become plain runs) and content controls."""
    p = _el("w:p")
    ppr = _sub(p, "w:pPr")
    if keep_next:
        _sub(ppr, "w:keepNext")
    if tabs:
        tabs_el = _sub(ppr, "w:tabs")
        for pos in tabs:
            _sub(tabs_el, "w:tab", w_val="left", w_pos=str(twips(pos)))
    spacing = _sub(ppr, "w:spacing", w_before=str(round(before * 20)),
                   w_after=str(round(after * 20)))
    if line:
        spacing.set(qn("w:line"), str(round(line * 240)))
        spacing.set(qn("w:lineRule"), "auto")
    if align:
        _sub(ppr, "w:jc", w_val=align)
    for item in content:
        p.append(run(item) if isinstance(item, str) else item)
    return p


def jinja_para(tag: str) -> El:
    """A paragraph holding only a docxtpl paragraph/row tag ({%p ...%} / {%tr ...%})."""
    return para(run(tag, size=6))


def field_simple(instr: str, cached: str, **fmt: Any) -> El:
    fld = _el("w:fldSimple", w_instr=f" {instr} \\* MERGEFORMAT ")
    fld.append(run(cached, **fmt))
    return fld


# ---- content controls ---------------------------------------------------------------------


def _sdt(spec: FieldSpec, *, showing_placeholder: bool,
         size: float | None) -> tuple[El, El, El]:
    sdt = _el("w:sdt")
    pr = _sub(sdt, "w:sdtPr")
    if size:
        rpr = _sub(pr, "w:rPr")
        _sub(rpr, "w:sz", w_val=str(round(size * 2)))
        _sub(rpr, "w:szCs", w_val=str(round(size * 2)))
    _sub(pr, "w:alias", w_val=spec.name)
    _sub(pr, "w:tag", w_val=spec.name)
    _sub(pr, "w:id", w_val=str(next(_ids)))
    _sub(pr, "w:lock", w_val="sdtLocked")
    if showing_placeholder:
        _sub(pr, "w:showingPlcHdr")
    content = _el("w:sdtContent")
    return sdt, pr, content


def control(spec: FieldSpec, *, prefill: str | None = None, placeholder: str | None = None,
            size: float | None = None, checked: bool = False) -> El:
    """A run-level content control for ``spec``: plain text, date picker, dropdown or checkbox.

    ``prefill`` (a Jinja expression) fills it at render time; otherwise it shows a placeholder
    marked w:showingPlcHdr, as Word does for an empty control.
    """
    if spec.kind == forms.CHECKBOX:
        sdt, pr, content = _sdt(spec, showing_placeholder=False, size=None)
        box = _sub(pr, "w14:checkbox")
        _sub(box, "w14:checked", w14_val="1" if checked else "0")
        _sub(box, "w14:checkedState", w14_val="2612", w14_font=BOX_FONT)
        _sub(box, "w14:uncheckedState", w14_val="2610", w14_font=BOX_FONT)
        content.append(run(CHECKED if checked else UNCHECKED, font=BOX_FONT, size=size))
        sdt.append(content)
        return sdt
    default = {forms.DATE: PLACEHOLDER_DATE, forms.DROPDOWN: PLACEHOLDER_CHOICE}.get(
        spec.kind, PLACEHOLDER_TEXT)
    sdt, pr, content = _sdt(spec, showing_placeholder=prefill is None, size=size)
    if spec.kind == forms.DATE:
        d = _sub(pr, "w:date")
        _sub(d, "w:dateFormat", w_val="dd/MM/yyyy")
        _sub(d, "w:lid", w_val="id-ID")
        _sub(d, "w:storeMappedDataAs", w_val="dateTime")
        _sub(d, "w:calendar", w_val="gregorian")
    elif spec.kind == forms.DROPDOWN:
        dd = _sub(pr, "w:dropDownList")
        for option in spec.options:
            _sub(dd, "w:listItem", w_displayText=option, w_value=option)
    else:
        text = _sub(pr, "w:text")
        if spec.multiline:
            text.set(qn("w:multiLine"), "1")
    if prefill is None:
        content.append(run(placeholder or default, style="PlaceholderText", size=size))
    else:
        content.append(run(prefill, size=size))
    sdt.append(content)
    return sdt


def checkbox_line(specs: list[FieldSpec], tabs: tuple[float, ...], *,
                  checked: frozenset[str] = frozenset()) -> El:
    """Checkboxes each followed by its label, separated by tabs (the label reader pairs a box
    with the text after it)."""
    items = []
    for n, spec in enumerate(specs):
        if n:
            items.append(run("\t"))
        items.append(control(spec, checked=spec.name in checked))
        items.append(run(" " + spec.label))
    return para(*items, tabs=tabs, before=1, after=1)


# ---- tables -------------------------------------------------------------------------------


class Table:
    """A fixed-layout bordered table on a grid of column widths in mm."""

    def __init__(self, widths_mm: list[float], *, borders: bool = True) -> None:
        self.widths = [twips(w) for w in widths_mm]
        self.el = _el("w:tbl")
        pr = _sub(self.el, "w:tblPr")
        # CT_TblPr is a sequence: Word rejects children out of schema order.
        _sub(pr, "w:tblW", w_w=str(sum(self.widths)), w_type="dxa")
        if borders:
            b = _sub(pr, "w:tblBorders")
            for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
                _sub(b, f"w:{side}", w_val="single", w_sz="4", w_space="0",
                     w_color=BORDER_COLOR)
        _sub(pr, "w:tblLayout", w_type="fixed")
        mar = _sub(pr, "w:tblCellMar")
        _sub(mar, "w:top", w_w="28", w_type="dxa")
        _sub(mar, "w:left", w_w="85", w_type="dxa")
        _sub(mar, "w:bottom", w_w="28", w_type="dxa")
        _sub(mar, "w:right", w_w="85", w_type="dxa")
        _sub(pr, "w:tblLook", w_val="0000", w_firstRow="0", w_lastRow="0", w_firstColumn="0",
             w_lastColumn="0", w_noHBand="1", w_noVBand="1")
        grid = _sub(self.el, "w:tblGrid")
        for w in self.widths:
            _sub(grid, "w:gridCol", w_w=str(w))

    def row(self, *cells, height_mm: float | None = None, exact: bool = False,
            header: bool = False, cant_split: bool = True, keep: bool = False) -> El:
        """cells: (content, span, options) built with cell(); spans must add up to the grid.
        ``keep`` keeps the row on the same page as the next one (keepNext on its paragraphs)."""
        tr = _sub(self.el, "w:tr")
        pr = _sub(tr, "w:trPr")
        if cant_split:
            _sub(pr, "w:cantSplit")
        if height_mm:
            _sub(pr, "w:trHeight", w_val=str(twips(height_mm)),
                 w_hRule="exact" if exact else "atLeast")
        if header:
            _sub(pr, "w:tblHeader")
        col = 0
        for content, span, opts in cells:
            tc = _sub(tr, "w:tc")
            tcpr = _sub(tc, "w:tcPr")
            _sub(tcpr, "w:tcW", w_w=str(sum(self.widths[col:col + span])), w_type="dxa")
            if span > 1:
                _sub(tcpr, "w:gridSpan", w_val=str(span))
            if opts.get("vmerge"):
                _sub(tcpr, "w:vMerge", **({"w_val": "restart"}
                                          if opts["vmerge"] == "restart" else {}))
            if opts.get("fill"):
                _sub(tcpr, "w:shd", w_val="clear", w_color="auto", w_fill=opts["fill"])
            _sub(tcpr, "w:vAlign", w_val=opts.get("valign", "center"))
            paragraphs = content if isinstance(content, list) else [content]
            for p in paragraphs:
                p = para(p) if isinstance(p, str) else p
                if keep:
                    ppr = p.find(qn("w:pPr"))
                    if ppr.find(qn("w:keepNext")) is None:
                        ppr.insert(0, _el("w:keepNext"))
                tc.append(p)
            col += span
        if col != len(self.widths):
            raise ValueError(f"row spans {col} columns, grid has {len(self.widths)}")
        return tr


def cell(content: El | str | list[El | str], span: int = 1, **opts: str) -> Cell:
    return (content, span, opts)


def label_cell(text: str, span: int = 1, *, hint: str = "") -> Cell:
    items = [run(text, b=True)]
    if hint:
        items.append(run(f" ({hint})", size=SMALL, i=True))
    return cell(para(*items), span, fill=LABEL_FILL)


def heading_row(table: Table, text: str, note: str = "") -> None:
    items = [run(text, b=True, size=10.5)]
    if note:
        items.append(run(f"  {note}", i=True, size=SMALL))
    table.row(cell(para(*items, keep_next=True, before=1, after=1), len(table.widths),
                   fill=HEADING_FILL), height_mm=6)


def subheading_row(table: Table, text: str) -> None:
    table.row(cell(para(run(text, b=True), keep_next=True), len(table.widths),
                   fill=SUBHEADING_FILL), height_mm=5.5)


def spacer(points: float = 4) -> El:
    p = para(after=0)
    rpr = _el("w:rPr")
    _sub(rpr, "w:sz", w_val=str(round(points * 2)))
    p.find(qn("w:pPr")).append(rpr)
    return p


# ---- the document -------------------------------------------------------------------------


def new_document(title: str, subject: str, *, landscape: bool = False) -> DocxDocument:
    doc = Document()
    section = doc.sections[0]
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Mm(297), Mm(210)
    else:
        section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(10 if landscape else 15)
    section.top_margin, section.bottom_margin = Mm(10), Mm(12)
    section.header_distance, section.footer_distance = Mm(8), Mm(6)

    styles = doc.styles
    normal = styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(SIZE)
    rpr = normal.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    for attr in ("w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)
    _sub(rpr, "w:lang", w_val="id-ID", w_eastAsia="id-ID")
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.line_spacing = 1.0
    placeholder = styles.add_style("Placeholder Text", WD_STYLE_TYPE.CHARACTER)
    placeholder.font.color.rgb = RGBColor(0x80, 0x80, 0x80)
    placeholder.element.set(qn("w:styleId"), "PlaceholderText")

    # python-docx's default package carries a thumbnail of its own sample; drop it.
    package = doc.part.package
    for rid, rel in list(package.rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            del package.rels[rid]
    props = doc.core_properties
    props.title, props.subject, props.author = title, subject, "mailproc"
    props.comments = "Dibuat oleh doc_templates/tools/build_templates.py"
    props.keywords = props.category = ""
    props.revision = 1
    # Fixed timestamps keep the build reproducible.
    props.created = props.modified = datetime(2026, 11, 1)
    props.last_modified_by = "mailproc"

    body = doc.element.body
    for p in list(body.iterchildren(qn("w:p"))):
        body.remove(p)
    return doc


def add_to_body(doc: DocxDocument, *elements: El) -> None:
    body = doc.element.body
    sect = body.find(qn("w:sectPr"))
    for el in elements:
        sect.addprevious(el)


def add_header(doc: DocxDocument, title: str, *, width_mm: float = TEXT_WIDTH_MM,
               section: int = 0) -> None:
    """The controlled-document block: logo | title + company | document control, on every
    page (it lives in the page header). A wider page widens the title column only; a later
    ``section`` (another orientation) gets a header of its own."""
    header = doc.sections[section].header
    header.is_linked_to_previous = False
    hdr = header._element
    for p in list(hdr.iterchildren(qn("w:p"))):
        hdr.remove(p)
    t = Table([30, width_mm - 94, 27, 37])
    rows = [
        ("No. Dokumen", run("{{ doc.number }}", size=9)),
        ("No. Revisi", run("{{ doc.revision }}", size=9)),
        ("Tanggal Revisi", run("{{ doc.revision_date }}", size=9)),
        ("Halaman", None),
    ]
    for n, (label, value) in enumerate(rows):
        if n == 0:
            # The configured logo (company.logo); the grey placeholder without one.
            logo = cell([para(run("{% if company.logo is defined and company.logo %}"
                                  "{{ company.logo }}{% else %}LOGO{% endif %}",
                                  b=True, color="A6A6A6", size=12), align="center")],
                        vmerge="restart", valign="center")
            title_cell = cell([
                para(run(title, b=True, size=11.5), align="center", after=2),
                para(run("{{ company.name }}", b=True, size=9.5), align="center"),
                para(run("{{ company.address }}", size=7.5, color="404040"), align="center"),
            ], vmerge="restart")
        else:
            logo = cell(para(), vmerge="continue")
            title_cell = cell(para(), vmerge="continue")
        if value is None:
            value_p = para(field_simple("PAGE", "1", size=9), run(" / ", size=9),
                           field_simple("NUMPAGES", "2", size=9))
        else:
            value_p = para(value)
        t.row(logo, title_cell, cell(para(run(label, size=9)), fill=LABEL_FILL),
              cell(value_p), height_mm=5.2)
    hdr.append(t.el)
    hdr.append(spacer(2))


def signature_table(columns: list[tuple[str, str, str, str]], *,
                    width_mm: float = TEXT_WIDTH_MM) -> El:
    """columns: (role, who, name expression, date expression). The table never splits
    across pages: each row is kept whole (cantSplit) and with the next (keepNext), so a page
    break falls before it, not between a role and its signature."""
    width = width_mm / len(columns)
    t = Table([width] * len(columns))
    t.row(*(cell([para(run(role, b=True), align="center"),
                  para(run(who, i=True, size=SMALL), align="center")], fill=LABEL_FILL)
            for role, who, _, _ in columns), height_mm=9, keep=True)
    t.row(*(cell(para(run("Tanda tangan", size=7, color="A6A6A6")), valign="top")
            for _ in columns), height_mm=17, keep=True)
    t.row(*(cell(para(run("Nama: ", b=True), run(name))) for _, _, name, _ in columns),
          height_mm=6, keep=True)
    t.row(*(cell(para(run("Tanggal: ", b=True), run(day))) for _, _, _, day in columns),
          height_mm=6)
    return t.el


# ---- PTPP (FM-MR-15) ----------------------------------------------------------------------


def build_ptpp() -> DocxDocument:
    f = forms.field_map("ptpp")
    doc = new_document("FM-MR-15 Permintaan Tindakan Perbaikan dan Pencegahan (PTPP)",
                       "PTPP {{ ptpp_number }}")
    doc.core_properties.subject = "PTPP"
    add_header(doc, "PERMINTAAN TINDAKAN PERBAIKAN DAN PENCEGAHAN (PTPP)")

    def ctl(name: str, **kw: Any) -> El:
        return control(f[name], **kw)

    # Top fields.
    top = Table([32, 58, 28, 62])
    top.row(label_cell(f["ptpp_number"].label), cell(para(ctl("ptpp_number",
                                                              prefill="{{ ptpp_number }}",
                                                              ))),
            label_cell("Tanggal"), cell(para(run("{{ date }}"))), height_mm=6)
    top.row(label_cell("Kepada"), cell(para(run("{{ to_department }}"))),
            label_cell("Dari"), cell(para(run("{{ from_issuer }}"))), height_mm=6)
    top.row(label_cell("Referensi", hint="keluhan"), cell(para(run("{{ reference }}"))),
            label_cell(f["cycle"].label), cell(para(ctl("cycle", prefill="{{ cycle }}"))),
            height_mm=6)

    # A. Issuer.
    a = Table([36, 54, 36, 54])
    heading_row(a, "A. DIISI OLEH PENERBIT", "(Administrasi Marketing)")
    sources = [f[name] for name, _ in forms.PTPP_SOURCES]
    tabs = (45, 92)
    a.row(label_cell("Sumber ketidaksesuaian"),
          cell([checkbox_line(sources[:3], tabs, checked=frozenset({"source_customer_complaint"})),
                checkbox_line(sources[3:], tabs)], 3), height_mm=10)
    kategori = []
    for n, s in enumerate(("Mayor", "Minor", "Observasi")):
        if n:
            kategori.append(run("\t"))
        kategori.append(run(f"{{{{ '{CHECKED}' if severity == '{s}' else '{UNCHECKED}' }}}}",
                            font=BOX_FONT))
        kategori.append(run(" " + s))
    a.row(label_cell("Kategori"), cell(para(*kategori, tabs=tabs, before=1, after=1), 3),
          height_mm=6)
    a.row(label_cell("Jenis keluhan"), cell(para(run("{{ category_label }}")), 3), height_mm=6)
    a.row(label_cell("Keluhan berulang"), cell(para(run("{{ repeat_note }}")), 3), height_mm=6)
    a.row(label_cell("Pelanggan"), cell(para(run("{{ customer }}"))),
          label_cell("Produk"), cell(para(run("{{ product }}"))), height_mm=6)
    a.row(label_cell("No. batch / lot"), cell(para(run("{{ batch }}"))),
          label_cell("Jumlah"), cell(para(run("{{ quantity }}"))), height_mm=6)
    a.row(label_cell("No. faktur"), cell(para(run("{{ invoice }}"))),
          label_cell("No. surat jalan"), cell(para(run("{{ delivery_note }}"))), height_mm=6)
    a.row(cell(para(run("Uraian ketidaksesuaian / keluhan", b=True), keep_next=True), 4,
               fill=LABEL_FILL), height_mm=5.5)
    a.row(cell(para(run("{{ description }}")), 4, valign="top"), height_mm=22,
          cant_split=False)
    # Evidence photos, two to a row; nothing at all when there are none.
    a.row(cell(para(run("{%tr if photos %}", size=6)), 4))
    a.row(cell(para(run("Foto bukti", b=True), keep_next=True), 4, fill=LABEL_FILL),
          height_mm=5.5)
    a.row(cell(para(run("{%tr endif %}", size=6)), 4))
    a.row(cell(para(run("{%tr for row in photo_rows %}", size=6)), 4))
    a.row(cell([para(run("{{ row[0].image }}"), align="center", before=2),
                para(run("{{ row[0].caption }}", i=True, size=SMALL), align="center",
                     after=2)], 2, valign="top"),
          cell([para(run("{% if row|length > 1 %}{{ row[1].image }}{% endif %}"),
                     align="center", before=2),
                para(run("{% if row|length > 1 %}{{ row[1].caption }}{% endif %}", i=True,
                         size=SMALL), align="center", after=2)], 2, valign="top"))
    a.row(cell(para(run("{%tr endfor %}", size=6)), 4))

    # Previous cycle (cycle > 1): read-only, one cell, so the label reader never takes its
    # text for this cycle's answers.
    prev = Table([TEXT_WIDTH_MM])
    heading_row(prev, "ANALISIS SIKLUS SEBELUMNYA",
                "(siklus {{ previous.cycle }}{% if previous.number %}, No. PTPP "
                "{{ previous.number }}{% endif %}: tindakan dinilai tidak efektif)")
    prev.row(cell([
        para(run("Akar penyebab: ", b=True), run("{{ previous.root_cause }}"), after=2),
        para(run("Tindakan:", b=True)),
        jinja_para("{%p for a in previous.actions %}"),
        para(run("{{ a.no }}. {{ a.corrective }}"),
             run("{% if a.cause %} (penyebab: {{ a.cause }}){% endif %}"
                 "{% if a.preventive %}; pencegahan: {{ a.preventive }}{% endif %}"
                 "; PIC: {{ a.pic }}; target: {{ a.target }}", size=9)),
        jinja_para("{%p endfor %}"),
        para(run("Catatan verifikasi: ", b=True), run("{{ previous.verification_note }}"),
             before=2),
    ], valign="top"), cant_split=False)

    # B. Responsible department.
    grid = [8, 36, 42, 42, 24, 28]
    b = Table(grid)
    heading_row(b, "B. DIISI OLEH PENERIMA PTPP", "(bagian terkait)")
    b.row(label_cell(f["correction"].label, 2),
          cell(para(ctl("correction")), 4, valign="top"), height_mm=14, keep=True)
    b.row(label_cell(f["correction_date"].label, 2), cell(para(ctl("correction_date"))),
          label_cell(f["correction_by"].label), cell(para(ctl("correction_by")), 2),
          height_mm=6)
    subheading_row(b, "Analisis akar penyebab (5 Mengapa dan diagram tulang ikan 6M)")
    for n in range(1, 6):
        b.row(label_cell(f[f"why_{n}"].label, 2), cell(para(ctl(f"why_{n}")), 4),
              height_mm=6, keep=True)
    b.row(label_cell(f["category_6m"].label, 2, hint="tulang ikan"),
          cell(para(ctl("category_6m")), 4), height_mm=6, keep=True)
    b.row(label_cell(f["root_cause"].label, 2),
          cell(para(ctl("root_cause")), 4, valign="top"), height_mm=12)
    subheading_row(b, "Rencana tindakan perbaikan dan pencegahan")
    headers = ["No"] + [label for _, label in forms.ACTION_COLUMNS]
    b.row(*(cell(para(run(h, b=True, size=9), align="center"), fill=LABEL_FILL)
            for h in headers), height_mm=6, header=True, keep=True)
    for n in range(1, forms.ACTION_ROWS + 1):
        cells = [cell(para(run(str(n)), align="center"))]
        for key, _ in forms.ACTION_COLUMNS:
            cells.append(cell(para(ctl(f"action_{n}_{key}", size=9,
                                       placeholder=PLACEHOLDER_CELL if key != "target"
                                       else None)), valign="top"))
        b.row(*cells, height_mm=10, keep=n < forms.ACTION_ROWS)
    b.row(label_cell(f["documents_revised"].label, 2, hint="SOP / IK / form"),
          cell(para(ctl("documents_revised")), 4), height_mm=6)
    subheading_row(b, "Penyelesaian")
    b.row(label_cell(f["completion_date"].label, 2), cell(para(ctl("completion_date")), 4),
          height_mm=6, keep=True)
    b.row(label_cell(f["completion_evidence"].label, 2),
          cell(para(ctl("completion_evidence")), 4, valign="top"), height_mm=10)

    # C. Verification by marketing administration.
    c = Table(grid)
    heading_row(c, "C. VERIFIKASI EFEKTIVITAS", "(Administrasi Marketing)")
    c.row(label_cell(f["verification_result"].label, 2),
          cell(para(ctl("verification_result"))),
          label_cell(f["verification_status"].label), cell(para(ctl("verification_status")), 2),
          height_mm=6, keep=True)
    c.row(label_cell(f["verification_note"].label, 2),
          cell(para(ctl("verification_note")), 4, valign="top"), height_mm=12, keep=True)
    c.row(label_cell(f["verification_date"].label, 2), cell(para(ctl("verification_date"))),
          label_cell(f["verifier"].label), cell(para(ctl("verifier")), 2), height_mm=6,
          keep=True)
    c.row(label_cell(f["new_ptpp_number"].label, 2, hint="bila tidak efektif"),
          cell(para(ctl("new_ptpp_number")), 4), height_mm=6)

    signatures = signature_table([
        ("Diterbitkan oleh", "Administrasi Marketing", "{{ from_issuer }}", "{{ date }}"),
        ("Diterima oleh", "Bagian terkait", "", ""),
        ("Diverifikasi oleh", "Administrasi Marketing", "", ""),
    ])

    add_to_body(
        doc, top.el, spacer(), a.el, spacer(),
        jinja_para("{%p if previous %}"), prev.el, spacer(), jinja_para("{%p endif %}"),
        b.el, spacer(), c.el, spacer(), signatures,
        para(run("FM-MR-15 · Formulir ini dikembalikan dalam format Word (.docx) dengan "
                 "membalas email PTPP.", size=7.5, color="808080"), before=3),
    )
    return doc


# ---- Return claim (BKI.FM.MKT.06) ---------------------------------------------------------


def build_retur() -> DocxDocument:
    f = forms.field_map("retur")
    doc = new_document("BKI.FM.MKT.06 Form Permintaan Klaim Retur (External)", "Klaim retur")
    add_header(doc, "FORM PERMINTAAN KLAIM RETUR (EXTERNAL)")

    def ctl(name: str, **kw: Any) -> El:
        return control(f[name], **kw)

    top = Table([30, 60, 30, 60])
    top.row(label_cell(f["claim_number"].label),
            cell(para(ctl("claim_number", prefill="{{ claim_number }}"))),
            label_cell("Tanggal"), cell(para(run("{{ date }}"))), height_mm=6)
    top.row(label_cell(f["ptpp_number"].label, hint="referensi"),
            cell(para(ctl("ptpp_number", prefill="{{ ptpp_number }}"))),
            label_cell("Pelanggan"), cell(para(run("{{ customer }}"))), height_mm=6)
    top.row(label_cell(f["contact"].label), cell(para(ctl("contact", prefill="{{ contact }}"))),
            label_cell(f["po"].label), cell(para(ctl("po", prefill="{{ po }}"))), height_mm=6)
    top.row(label_cell(f["delivery_note"].label),
            cell(para(ctl("delivery_note", prefill="{{ delivery_note }}"))),
            label_cell(f["invoice"].label),
            cell(para(ctl("invoice", prefill="{{ invoice }}"))), height_mm=6)

    # No | name (2 grid columns) | batch | qty sent | qty returned | unit; label rows use
    # the first two columns for the label (40 mm) and the rest for the value.
    grid = [8, 32, 30, 34, 24, 24, 28]
    a = Table(grid)
    heading_row(a, "A. DIISI OLEH PELANGGAN")
    subheading_row(a, "Barang yang diretur")
    headers = ["No"] + [label for _, label in forms.ITEM_COLUMNS]
    spans = [1, 2, 1, 1, 1, 1]
    a.row(*(cell(para(run(h, b=True, size=9), align="center"), span, fill=LABEL_FILL)
            for h, span in zip(headers, spans, strict=True)), height_mm=6, header=True,
          keep=True)
    for n in range(1, forms.ITEM_ROWS + 1):
        cells = [cell(para(run(str(n)), align="center"))]
        for (key, _), span in zip(forms.ITEM_COLUMNS, spans[1:], strict=True):
            # Known values (from the complaint) prefill the first rows; the rest stay empty.
            expr = (f"{{{{ items[{n - 1}].{key} if items|length > {n - 1} "
                    f"and items[{n - 1}].{key} else '{PLACEHOLDER_CELL}' }}}}")
            cells.append(cell(para(ctl(f"item_{n}_{key}", size=9, prefill=expr)), span))
        a.row(*cells, height_mm=7, keep=n < forms.ITEM_ROWS)
    reasons = [f[name] for name, _ in forms.RETURN_REASONS]
    tabs = (47, 94)
    a.row(label_cell("Alasan retur", 2),
          cell([checkbox_line(reasons[0:3], tabs), checkbox_line(reasons[3:6], tabs),
                checkbox_line(reasons[6:], tabs)], 5), height_mm=14, keep=True)
    a.row(label_cell(f["reason_other_text"].label, 2), cell(para(ctl("reason_other_text")), 5),
          height_mm=6)
    a.row(label_cell("Uraian keluhan", 2), cell(para(run("{{ description }}")), 5,
                                                valign="top"), height_mm=12, cant_split=False)
    a.row(label_cell(f["customer_note"].label, 2),
          cell(para(ctl("customer_note")), 5, valign="top"), height_mm=12)
    a.row(label_cell("Foto", 2), cell(para(run(
        "Mohon lampirkan foto barang dan kemasan (tampak keseluruhan, detail kerusakan, label "
        "batch/lot) pada email balasan bersama formulir ini.", i=True, size=9)), 5),
        height_mm=8)

    b = Table(grid)
    heading_row(b, "B. DIISI OLEH PERUSAHAAN", "(QC / Gudang / Administrasi Marketing)")
    b.row(label_cell(f["qc_result"].label, 2),
          cell(para(ctl("qc_result")), 5, valign="top"), height_mm=16, keep=True)
    b.row(label_cell(f["decision"].label, 2), cell(para(ctl("decision")), 5), height_mm=6,
          keep=True)
    b.row(label_cell(f["decision_reason"].label, 2),
          cell(para(ctl("decision_reason")), 5, valign="top"), height_mm=12, keep=True)
    b.row(label_cell(f["settlement"].label, 2), cell(para(ctl("settlement")), 5), height_mm=6)

    signatures = signature_table([
        ("Pelanggan", "yang mengajukan", "", ""),
        ("Administrasi Marketing", "penerima klaim", "", ""),
        ("QC / Gudang", "pemeriksa", "", ""),
        ("Disetujui oleh", "Manajer Operasional", "", ""),
    ])
    add_to_body(
        doc, top.el, spacer(), a.el, spacer(), b.el, spacer(), signatures,
        para(run("BKI.FM.MKT.06 · Mohon isi bagian A lalu kirim kembali formulir ini dalam "
                 "format Word (.docx) dengan membalas email klaim.", size=7.5, color="808080"),
             before=3),
    )
    return doc


# ---- Reports: shared bits -----------------------------------------------------------------


def cell_margins(table: Table, left_right: int, top_bottom: int = 28) -> None:
    """Narrower cell margins (twips) than the forms use, for dense report tables."""
    mar = table.el.find(qn("w:tblPr")).find(qn("w:tblCellMar"))
    for side in ("top", "bottom"):
        mar.find(qn(f"w:{side}")).set(qn("w:w"), str(top_bottom))
    for side in ("left", "right"):
        mar.find(qn(f"w:{side}")).set(qn("w:w"), str(left_right))


def section_title(text: str, note: str = "", *, page_break: bool = False) -> El:
    """A report section heading: bold text over a thin rule, kept with what follows."""
    items = [run(text, b=True, size=10.5)]
    if note:
        items.append(run(f"  {note}", i=True, size=SMALL, color="595959"))
    p = para(*items, keep_next=True, before=6, after=3)
    ppr = p.find(qn("w:pPr"))
    if page_break:
        ppr.insert(1, _el("w:pageBreakBefore"))
    bdr = _el("w:pBdr")
    _sub(bdr, "w:bottom", w_val="single", w_sz="6", w_space="1", w_color="808080")
    ppr.find(qn("w:spacing")).addprevious(bdr)
    return p


# ---- Rekapitulasi Keluhan Pelanggan (A4 portrait, the register A4 landscape) -------------

# The register columns of DOMAIN.md with their widths (mm, adding up to 277) and alignment.
# These are the starting widths only: mailproc sizes the columns from each month's rows
# (reports.output.fit_register), so no word is broken in the middle.
RECAP_COLUMNS: tuple[tuple[str, float, str], ...] = (
    ("No", 6, "center"),
    ("No. PTPP", 21, "left"),
    ("Tanggal terima", 14.5, "center"),
    ("Pelanggan", 19, "left"),
    ("Saluran", 13, "left"),
    ("Produk", 16, "left"),
    ("No. batch/lot", 14, "left"),
    ("Qty", 8, "right"),
    ("Kategori", 17.5, "left"),
    ("Uraian", 31, "left"),
    ("Valid (Y/T)", 8, "center"),
    ("Bagian / PIC", 15, "left"),
    ("Tanggapan pertama", 15, "center"),
    ("Target selesai", 14.5, "center"),
    ("Tanggal selesai", 14.5, "center"),
    ("Lama penyelesaian (hari kerja)", 11, "center"),
    ("Status", 10, "center"),
    ("Retur (Y/T, no. klaim)", 16, "left"),
    ("Keterangan", 13, "left"),
)
REGISTER_SIZE = 7  # pt: 19 columns on a landscape page
# Header words too long for their column get a soft hyphen (Word and LibreOffice honour it).
_SOFT_HYPHENS = {"penyelesaian": "penye\u00adlesaian", "Keterangan": "Kete\u00adrangan"}

# summary.* keys, in the order shown, five to a row: (key, label, hint).
RECAP_SUMMARY = (
    ("total", "Jumlah keluhan", "diterima dalam periode"),
    ("valid", "Keluhan valid", "dari keluhan diterima"),
    ("closed", "Selesai (closed)", "dari keluhan valid"),
    ("open", "Masih terbuka (open)", "dari keluhan valid"),
    ("on_target_pct", "Selesai tepat waktu", "% dari yang selesai"),
    ("median_days", "Median lama penyelesaian", "sejak diterima"),
    ("by_severity", "Kategori PTPP", "Mayor / Minor / Observasi"),
    ("satisfaction", "Kepuasan pelanggan", "rata-rata nilai 1-5"),
    ("repeats", "Keluhan berulang", "dari keluhan periode ini"),
    ("open_total", "Seluruh keluhan terbuka", "per {{ review.as_of }}, semua periode"),
)
# B. Lead times per step: (header, width mm, expression, alignment).
RECAP_STEPS = (
    ("Tahap", 33, "{{ s.label }}", "left"),
    ("Diukur dari \u2192 sampai", 44, "{{ s.span }}", "left"),
    ("Target", 28, "{{ s.target }}", "left"),
    ("Selesai (n)", 14, "{{ s.done }}", "center"),
    ("Median (hari kerja)", 16, "{{ s.median }}", "center"),
    ("Tepat waktu", 15, "{{ s.on_time }}", "center"),
    ("% tepat waktu", 14, "{{ s.pct }}", "center"),
    ("Belum selesai, lewat target", 16, "{{ s.late_open }}", "center"),
)
# D. Repeat complaints.
RECAP_REPEATS = (
    ("No. PTPP", 36, "{{ r.number }}", "left"),
    ("Tanggal terima", 18, "{{ r.received }}", "center"),
    ("Pelanggan", 32, "{{ r.customer }}", "left"),
    ("Produk / batch", 32, "{{ r.product }}", "left"),
    ("Mengulang keluhan", 36, "{{ r.repeat_of }}", "left"),
    ("Status", 26, "{{ r.status }}", "left"),
)
AGE_BUCKETS = ("0\u20132", "3\u20135", "6\u201310", "> 10")


def _header_run(label: str, **fmt: Any) -> El:
    """A run with optional hyphens (w:softHyphen) in the words of _SOFT_HYPHENS."""
    for word, hyphenated in _SOFT_HYPHENS.items():
        label = label.replace(word, hyphenated)
    r = run("", **fmt)
    for n, part in enumerate(label.split("\u00ad")):
        if n:
            _sub(r, "w:softHyphen")
        t = _sub(r, "w:t")
        t.text = part
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return r


def _page_break_before(p: El) -> El:
    p.find(qn("w:pPr")).insert(0, _el("w:pageBreakBefore"))
    return p


def _list_table(columns: tuple[tuple[str, float, str, str], ...], loop: str, empty: str,
                *, size: float = 8.5, bold_first: bool = True) -> El:
    """A small table: a header row (repeated on a new page), one row per item of the docxtpl
    loop ``loop`` ('s in review.steps'), and ``empty`` when there is none. The columns are
    wide enough for their longest word at ``size`` (a PTPP number at 8 pt needs 31 mm)."""
    t = Table([w for _, w, _, _ in columns])
    cell_margins(t, 57)
    n = len(columns)
    t.row(*(cell(para(run(h, b=True, size=size), align="center"), fill=LABEL_FILL)
            for h, _, _, _ in columns), height_mm=7, header=True, keep=True)
    t.row(cell(para(run(f"{{%tr for {loop} %}}", size=6)), n))
    t.row(*(cell(para(run(expr, size=size, b=bold_first and k == 0), align=align),
                 valign="top")
            for k, (_, _, expr, align) in enumerate(columns)), height_mm=5.5)
    t.row(cell(para(run("{%tr endfor %}", size=6)), n))
    items = loop.split(" in ", 1)[1]
    t.row(cell(para(run(f"{{%tr if not {items} %}}", size=6)), n))
    t.row(cell(para(run(empty, i=True, size=size), align="center"), n), height_mm=6)
    t.row(cell(para(run("{%tr endif %}", size=6)), n))
    return t.el


def _note(text: str) -> El:
    return para(run(text, i=True, size=7.5, color="595959"), before=2)


def build_recap() -> DocxDocument:
    """Portrait pages for the management review (summary, lead times per step, open
    complaints by age, repeats, then the charts two to a page, each with its caption and
    note), and a landscape section for the register and the signatures."""
    width = TEXT_WIDTH_MM
    doc = new_document("Rekapitulasi Keluhan Pelanggan", "Rekapitulasi {{ period }}")
    add_header(doc, "REKAPITULASI KELUHAN PELANGGAN", width_mm=width)

    top = Table([30, 60, 32, width - 122])
    top.row(label_cell("Periode"), cell(para(run("{{ period }}", b=True))),
            label_cell("Tanggal dibuat"), cell(para(run("{{ generated }}"))), height_mm=6)

    # A. Summary: labels over values, five figures to a row.
    per_row = 5
    summary = Table([width / per_row] * per_row)
    for at in range(0, len(RECAP_SUMMARY), per_row):
        part = RECAP_SUMMARY[at:at + per_row]
        summary.row(*(cell([para(run(label, b=True, size=8.5), align="center"),
                            para(run(hint, i=True, size=7, color="595959"),
                                 align="center")], fill=LABEL_FILL)
                      for _, label, hint in part), height_mm=9, keep=True)
        summary.row(*(cell(para(run(f"{{{{ summary.{key} }}}}", b=True, size=12),
                                align="center", before=2, after=2))
                      for key, _, _ in part), height_mm=9, keep=at + per_row < len(RECAP_SUMMARY))

    # C. Open complaints by age: the four buckets and their total.
    ages = Table([width / 5] * 5)
    ages.row(*(cell(para(run(f"{b} hari kerja", b=True, size=8.5), align="center"),
                    fill=LABEL_FILL) for b in AGE_BUCKETS),
             cell(para(run("Jumlah", b=True, size=8.5), align="center"), fill=LABEL_FILL),
             height_mm=6, keep=True)
    ages.row(*(cell(para(run(f"{{{{ review.ages[{n}] }}}}", b=True, size=12), align="center",
                         before=1, after=1)) for n in range(len(AGE_BUCKETS))),
             cell(para(run("{{ summary.open_total }}", b=True, size=12), align="center",
                       before=1, after=1)), height_mm=8)

    # E. Charts, two to a page: the caption kept with its chart and the note under it; every
    # odd chart after the first starts a page.
    caption = "Grafik {{ loop.index }}. {{ chart.title }}"
    charts = [
        jinja_para("{%p for chart in charts %}"),
        jinja_para("{%p if loop.index is odd and not loop.first %}"),
        _page_break_before(para(run(caption, b=True, size=9.5), keep_next=True, after=2)),
        jinja_para("{%p else %}"),
        para(run(caption, b=True, size=9.5), keep_next=True, before=10, after=2),
        jinja_para("{%p endif %}"),
        para(run("{{ chart.image }}"), align="center", keep_next=True),
        para(run("{{ chart.note }}", i=True, size=7.5, color="595959"), before=1, after=4),
        jinja_para("{%p endfor %}"),
        jinja_para("{%p if not charts %}"),
        para(run("Tidak ada grafik.", i=True, color="808080")),
        jinja_para("{%p endif %}"),
    ]

    add_to_body(
        doc, top.el,
        section_title("A. RINGKASAN"), summary.el,
        section_title("B. WAKTU PROSES PER TAHAP TERHADAP TARGET",
                      "hari kerja; keluhan periode ini, sampai tanggal dibuat"),
        _list_table(tuple(RECAP_STEPS), "s in review.steps", "Belum ada data."),
        _note("Tahap PTPP (analisis, pelaksanaan, verifikasi) dihitung per siklus. Tepat waktu: "
              "tahap yang selesai sebelum batas waktunya; tahap yang belum selesai dan sudah "
              "lewat target dihitung di kolom terakhir."),
        section_title("C. KELUHAN TERBUKA MENURUT UMUR",
                      "per {{ review.as_of }}; semua periode; umur sejak keluhan diterima"),
        ages.el,
        section_title("D. KELUHAN BERULANG",
                      "pelanggan yang sama, produk atau batch yang sama"),
        _list_table(tuple(RECAP_REPEATS), "r in review.repeats",
                    "Tidak ada keluhan berulang pada periode ini.", size=8, bold_first=False),
        section_title("E. GRAFIK", page_break=True), *charts,
    )

    # F. The register on landscape pages; the column header row repeats on every page.
    doc.add_section(WD_SECTION.NEW_PAGE)
    landscape = doc.sections[1]
    landscape.orientation = WD_ORIENT.LANDSCAPE
    landscape.page_width, landscape.page_height = Mm(297), Mm(210)
    landscape.left_margin = landscape.right_margin = Mm(10)
    add_header(doc, "REKAPITULASI KELUHAN PELANGGAN", width_mm=LANDSCAPE_WIDTH_MM, section=1)
    reg = Table([w for _, w, _ in RECAP_COLUMNS])
    cell_margins(reg, 40, 20)
    cols = len(RECAP_COLUMNS)
    reg.row(*(cell(para(_header_run(label, b=True, size=REGISTER_SIZE), align="center"),
                   fill=LABEL_FILL) for label, _, _ in RECAP_COLUMNS),
            height_mm=8, header=True)
    reg.row(cell(para(run("{%tr for row in rows %}", size=6)), cols))
    reg.row(*(cell(para(run(f"{{{{ row[{i}] }}}}", size=REGISTER_SIZE), align=align),
                   valign="top")
              for i, (_, _, align) in enumerate(RECAP_COLUMNS)), height_mm=4.5)
    reg.row(cell(para(run("{%tr endfor %}", size=6)), cols))
    reg.row(cell(para(run("{%tr if not rows %}", size=6)), cols))
    reg.row(cell(para(run("Tidak ada keluhan pada periode ini.", i=True, size=8),
                      align="center"), cols), height_mm=6)
    reg.row(cell(para(run("{%tr endif %}", size=6)), cols))

    signatures = signature_table([
        ("Dibuat oleh", "Administrasi Marketing", "{{ prepared_by }}", "{{ generated }}"),
        ("Diperiksa oleh", "Supervisor Admin Marketing", "", ""),
        ("Disetujui oleh", "Manajer Operasional", "", ""),
    ], width_mm=LANDSCAPE_WIDTH_MM)

    add_to_body(
        doc,
        section_title("F. DAFTAR KELUHAN PELANGGAN", "periode {{ period }}"),
        reg.el, spacer(8), signatures,
        para(run("Rekapitulasi Keluhan Pelanggan \u00b7 catatan mutu menurut prosedur "
                 "penanganan keluhan pelanggan dan masukan tinjauan manajemen (ISO 9001 "
                 "klausul 9.3); lama penyelesaian dihitung dalam hari kerja.",
                 size=7.5, color="808080"), before=3),
    )
    return doc


# ---- Laporan Penutupan PTPP (A4 portrait) -------------------------------------------------


def build_closure() -> DocxDocument:
    doc = new_document("Laporan Penutupan PTPP", "Penutupan PTPP {{ ptpp_number }}")
    add_header(doc, "LAPORAN PENUTUPAN PTPP")

    top = Table([32, 58, 32, 58])
    top.row(label_cell("No. PTPP"), cell(para(run("{{ ptpp_number }}", b=True))),
            label_cell("Tanggal ditutup"), cell(para(run("{{ closing_date }}", b=True))),
            height_mm=6)
    top.row(label_cell("Kepada"), cell(para(run("Bagian Penjualan dan Pemasaran"))),
            label_cell("Tanggal laporan"), cell(para(run("{{ date }}"))), height_mm=6)

    # A. The complaint.
    a = Table([36, 54, 36, 54])
    heading_row(a, "A. DATA KELUHAN")
    a.row(label_cell("No. keluhan"), cell(para(run("{{ complaint.number }}"))),
          label_cell("Tanggal terima"), cell(para(run("{{ complaint.received }}"))),
          height_mm=6)
    a.row(label_cell("Pelanggan"), cell(para(run("{{ complaint.customer }}"))),
          label_cell("Saluran"), cell(para(run("{{ complaint.channel }}"))), height_mm=6)
    a.row(label_cell("Produk"), cell(para(run("{{ complaint.product }}"))),
          label_cell("No. batch / lot"), cell(para(run("{{ complaint.batch }}"))), height_mm=6)
    a.row(label_cell("Jumlah"), cell(para(run("{{ complaint.quantity }}"))),
          label_cell("Kategori"), cell(para(run("{{ complaint.category }}"))), height_mm=6)
    a.row(label_cell("Bagian terkait"), cell(para(run("{{ complaint.department }}")), 3),
          height_mm=6)
    a.row(label_cell("Kepuasan pelanggan", hint="nilai 1-5"),
          cell(para(run("{{ complaint.satisfaction }}")), 3), height_mm=6)
    a.row(cell(para(run("Uraian keluhan", b=True), keep_next=True), 4, fill=LABEL_FILL),
          height_mm=5.5)
    a.row(cell(para(run("{{ complaint.description }}")), 4, valign="top"), height_mm=12,
          cant_split=False)

    # B. One table per analysis cycle: analysis, actions, completion, verification.
    grid = [8, 36, 42, 42, 24, 28]
    b = Table(grid)
    heading_row(b, "B. SIKLUS {{ c.number }}: ANALISIS, TINDAKAN DAN VERIFIKASI")
    # The cycle heading repeats when a cycle runs onto the next page.
    b.el.find(qn("w:tr")).find(qn("w:trPr")).append(_el("w:tblHeader"))
    b.row(label_cell("Koreksi / tindakan segera", 2),
          cell(para(run("{{ c.correction }}")), 4, valign="top"), height_mm=6, keep=True)
    b.row(label_cell("Tanggal koreksi", 2), cell(para(run("{{ c.correction_date }}"))),
          label_cell("Pelaksana"), cell(para(run("{{ c.correction_by }}")), 2),
          height_mm=6, keep=True)
    subheading_row(b, "Analisis akar penyebab")
    b.row(cell(para(run("{%tr for w in c.whys %}", size=6)), 6))
    b.row(label_cell("Mengapa {{ loop.index }}", 2), cell(para(run("{{ w }}")), 4),
          height_mm=5.5, keep=True)
    b.row(cell(para(run("{%tr endfor %}", size=6)), 6))
    b.row(label_cell("Kategori 6M", 2, hint="tulang ikan"),
          cell(para(run("{{ c.category_6m }}")), 4), height_mm=5.5, keep=True)
    b.row(label_cell("Akar penyebab", 2),
          cell(para(run("{{ c.root_cause }}", b=True)), 4, valign="top"), height_mm=6)
    subheading_row(b, "Rencana tindakan perbaikan dan pencegahan")
    headers = ["No", "Penyebab", "Tindakan korektif", "Tindakan pencegahan", "PIC", "Target"]
    b.row(*(cell(para(run(h, b=True, size=9), align="center"), fill=LABEL_FILL)
            for h in headers), height_mm=6, keep=True)
    b.row(cell(para(run("{%tr for a in c.actions %}", size=6)), 6))
    b.row(cell(para(run("{{ a.no }}", size=9), align="center"), valign="top"),
          *(cell(para(run(f"{{{{ a.{key} }}}}", size=9)), valign="top")
            for key in ("cause", "corrective", "preventive", "pic", "target")),
          height_mm=6)
    b.row(cell(para(run("{%tr endfor %}", size=6)), 6))
    b.row(label_cell("Dokumen yang direvisi", 2),
          cell(para(run("{{ c.documents_revised }}")), 4), height_mm=5.5)
    subheading_row(b, "Penyelesaian dan verifikasi efektivitas")
    b.row(label_cell("Tanggal selesai", 2), cell(para(run("{{ c.completion_date }}"))),
          label_cell("Bukti"), cell(para(run("{{ c.completion_evidence }}")), 2, valign="top"),
          height_mm=6, keep=True)
    b.row(label_cell("Hasil verifikasi", 2), cell(para(run("{{ c.result }}", b=True))),
          label_cell("Tanggal"), cell(para(run("{{ c.verification_date }}")), 2),
          height_mm=6, keep=True)
    b.row(label_cell("Catatan evaluasi", 2), cell(para(run("{{ c.note }}")), 4, valign="top"),
          height_mm=6, keep=True)
    b.row(label_cell("Verifikator", 2), cell(para(run("{{ c.verifier }}")), 4), height_mm=6)

    # C. Lead times in working days.
    c = Table([60, 60, 60])
    heading_row(c, "C. WAKTU PENYELESAIAN", "(hari kerja)")
    lead = (("Tanggapan pertama", "sejak keluhan diterima", "first_response"),
            ("Analisis dan rencana tindakan", "sejak PTPP diterbitkan", "analysis"),
            ("Penutupan PTPP", "sejak keluhan diterima", "closing"))
    c.row(*(cell([para(run(label, b=True), align="center"),
                  para(run(hint, i=True, size=SMALL), align="center")], fill=LABEL_FILL)
            for label, hint, _ in lead), height_mm=9, keep=True)
    c.row(*(cell(para(run(f"{{{{ lead.{key} }}}}", b=True, size=12), align="center",
                      before=1, after=1))
            for _, _, key in lead), height_mm=8)

    signatures = signature_table([
        ("Dibuat oleh", "Administrasi Marketing", "{{ prepared_by }}", "{{ date }}"),
        ("Diketahui oleh", "Penjualan dan Pemasaran", "", ""),
        ("Disetujui oleh", "Manajer Operasional", "", ""),
    ])

    add_to_body(
        doc, top.el, spacer(), a.el, spacer(),
        jinja_para("{%p for c in cycles %}"), b.el, spacer(), jinja_para("{%p endfor %}"),
        c.el, spacer(), signatures,
        para(run("Lampiran: formulir PTPP (FM-MR-15) final. PTPP ditutup setelah tindakan "
                 "dinilai efektif; laporan ini disampaikan kepada Bagian Penjualan dan "
                 "Pemasaran.", size=7.5, color="808080"), before=3),
    )
    return doc


def _stable_zip(doc: DocxDocument) -> bytes:
    """The saved package with fixed member timestamps, so rebuilding an unchanged layout
    gives the same bytes (and no spurious change to commit)."""
    raw = io.BytesIO()
    doc.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            stable = zipfile.ZipInfo(info.filename, date_time=(2026, 11, 1, 0, 0, 0))
            stable.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(stable, src.read(info))
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "doc_templates")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, build in (("ptpp.docx", build_ptpp), ("retur.docx", build_retur),
                        ("recap.docx", build_recap), ("closure.docx", build_closure)):
        path = args.out / name
        path.write_bytes(_stable_zip(build()))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
