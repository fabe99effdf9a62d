"""The recap's register rows written without Jinja (reports.output._RowPlan): the same document
as docxtpl renders, tricky text included, and templates of another kind still rendered."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from lxml import etree

from mailproc.forms.package import TemplateProblem
from mailproc.reports import output
from mailproc.reports.output import REGISTER_COLUMNS, chart_png, render_recap

REPO = Path(__file__).resolve().parents[2]
RECAP = REPO / "doc_templates" / "recap.docx"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

TRICKY = [
    "{{ x }}", "{% if %}", "A & B < C > D", "ctrl\x01\x02\x0b\x1f end", "bel\a form\f feed",
    "Botol retak di leher; pelanggan minta retur segera (Cikarang, Jawa Barat)", "",
    "baris satu\nbaris dua", "kolom\tkolom", "windows\r\nbaris\rlama", "  spasi di tepi  ",
    "tanpa\u00a0putus", "\"kutip\" & 'apostrof'", "{%tr endfor %}", "{_{ x }_}", "</w:t>",
    "ümlaut é — «»", "emoji 🙂", "lone \ud800 surrogate", "&amp; &#123;",
]


def tricky_rows(count: int) -> list[list[Any]]:
    rows = []
    for n in range(count):
        row: list[Any] = [TRICKY[(n + i) % len(TRICKY)] for i in range(len(REGISTER_COLUMNS))]
        row[0] = str(n + 1)
        rows.append(row)
    rows[0][3] = None  # None prints empty
    rows[0][4] = 42  # not a string: printed with str()
    return rows


def context(rows: list[list[Any]]) -> dict[str, Any]:
    return {
        "company": {"name": "PT Contoh & Anak <Indonesia>", "address": "Jl. Industri {{ 1 }}"},
        "doc": {"number": "BKI.FM.MKT.07", "revision": "01", "revision_date": "18/09/2023"},
        "period": "November 2026", "generated": "01/12/2026", "prepared_by": "Rina",
        "summary": {"total": len(rows), "valid": 1, "closed": 1, "open": 0,
                    "on_target_pct": "100%", "median_days": "4,5"},
        "rows": rows,
    }


def expected_text(value: Any) -> str:
    """How a value reads back: as forms.render prints it (see its _finalize)."""
    if value is None:
        return ""
    return _ILLEGAL.sub("", str(value).replace("\r\n", "\n").replace("\r", "\n"))


def register_body(content: bytes) -> list[list[str]]:
    doc = Document(io.BytesIO(content))
    table = next(t for t in doc.tables
                 if [c.text for c in t.rows[0].cells] == list(REGISTER_COLUMNS))
    return [[c.text for c in row.cells] for row in table.rows[1:]]


def canonical_parts(content: bytes) -> dict[str, bytes]:
    """Every member; XML in canonical form (the fast path writes the same elements, its
    escaping may differ: '&#123;' against '{')."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name.endswith((".xml", ".rels")):
                data = etree.tostring(etree.fromstring(data), method="c14n")
            out[name] = data
    return out


def with_document_xml(edit: Any) -> bytes:
    """recap.docx with word/document.xml passed through ``edit(str) -> str``."""
    out = io.BytesIO()
    with zipfile.ZipFile(RECAP) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "word/document.xml":
                data = edit(data.decode("utf-8")).encode("utf-8")
            zout.writestr(info, data)
    return out.getvalue()


def test_the_shipped_template_takes_the_fast_path() -> None:
    plan = output._RowPlan.of(RECAP, "n")
    assert plan is not None
    assert [n for n, _ in plan.slots] == list(range(len(REGISTER_COLUMNS)))


def test_tricky_cell_texts_read_back_as_given() -> None:
    rows = tricky_rows(45)
    body = register_body(render_recap(RECAP, context(rows), []))
    assert body == [[expected_text(v) for v in row] for row in rows]


@pytest.mark.parametrize("count", [0, 1, 45])
def test_same_document_as_docxtpl(count: int) -> None:
    rows = tricky_rows(count) if count else []
    charts = [("Keluhan per bulan", chart_png("per_month", [("2026-11", 3)], title="")),
              ("Median", b"not a png")]
    new = render_recap(RECAP, context(rows), charts)
    old = render_recap(RECAP, context(rows), charts, jinja_rows=True)
    assert canonical_parts(new) == canonical_parts(old)


def test_many_rows_keep_the_repeated_header_row() -> None:
    rows = tricky_rows(700)
    content = render_recap(RECAP, context(rows), [])
    doc = Document(io.BytesIO(content))
    table = next(t for t in doc.tables
                 if [c.text for c in t.rows[0].cells] == list(REGISTER_COLUMNS))
    assert len(table.rows) == 701
    assert table.rows[0]._tr.trPr.find(f"{W}tblHeader") is not None
    assert all(row._tr.trPr.find(f"{W}tblHeader") is None for row in table.rows[1:])
    assert "Tidak ada keluhan pada periode ini." not in "\n".join(p.text for p in doc.paragraphs)


def test_rows_split_across_runs_as_word_saves_them() -> None:
    """Word often cuts '{{ row[3] }}' into several runs; docxtpl joins them, so do we."""
    def split(xml: str) -> str:
        assert "{{ row[3] }}</w:t></w:r>" in xml
        return xml.replace(
            "{{ row[3] }}</w:t></w:r>",
            '{{ row</w:t></w:r><w:proofErr w:type="spellStart"/><w:r><w:rPr><w:b/></w:rPr>'
            '<w:t>[3] }}</w:t></w:r>', 1)

    template = with_document_xml(split)
    assert output._RowPlan.of(template, "n") is not None
    rows = tricky_rows(25)
    new = render_recap(template, context(rows), [])
    assert canonical_parts(new) == canonical_parts(
        render_recap(template, context(rows), [], jinja_rows=True))
    assert [r[3] for r in register_body(new)] == [expected_text(r[3]) for r in rows]


@pytest.mark.parametrize("edit", [
    lambda xml: xml.replace("{{ row[9] }}", "{{ row[9]|upper }}"),  # a filter
    lambda xml: xml.replace("{{ row[2] }}", "{{ loop.index }}"),  # another variable
    lambda xml: xml.replace("{{ row[5] }}", "{% if row[5] %}{{ row[5] }}{% endif %}"),
    lambda xml: xml.replace("{%tr for row in rows %}", "{%tr for row in rows|reverse %}"),
], ids=["filter", "loop-index", "if-tag", "filtered-loop"])
def test_other_templates_render_through_jinja(edit: Any) -> None:
    template = with_document_xml(edit)
    assert output._RowPlan.of(template, "n") is None
    rows = tricky_rows(5)
    new = render_recap(template, context(rows), [])
    assert canonical_parts(new) == canonical_parts(
        render_recap(template, context(rows), [], jinja_rows=True))
    assert len(register_body(new)) == 5


def test_values_that_are_not_plain_fall_back_to_jinja() -> None:
    from markupsafe import Markup

    rows = tricky_rows(3)
    rows[1][9] = Markup("<w:t>sudah XML</w:t>")  # printed as given, like docxtpl does
    new = render_recap(RECAP, context(rows), [])
    assert canonical_parts(new) == canonical_parts(
        render_recap(RECAP, context(rows), [], jinja_rows=True))
    plan = output._RowPlan.of(RECAP, "n")
    assert plan is not None
    assert plan.rows_xml([*rows[:1], {"not": "a list"}], False) is None


def test_strict_short_row_is_an_error_as_before() -> None:
    rows = tricky_rows(2)
    rows[1] = rows[1][:5]
    with pytest.raises(TemplateProblem):
        render_recap(RECAP, context(rows), [], strict=True)
    body = register_body(render_recap(RECAP, context(rows), []))
    assert body[1] == [expected_text(v) for v in rows[1]] + [""] * 14


def test_missing_rows_print_the_empty_register() -> None:
    ctx = context([])
    del ctx["rows"]
    content = render_recap(RECAP, ctx, [])
    assert register_body(content) == [["Tidak ada keluhan pada periode ini."] * 19]


# ---- the register .xlsx: rows written as sheet XML ---------------------------------------


def reference_xlsx(columns: list[str], rows: list[list[Any]]) -> bytes:
    """register_xlsx as it was (ad8133d): every cell through openpyxl's write-only cells."""
    import datetime as dt
    from decimal import Decimal

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Register")
    for i, name in enumerate(columns):
        longest = max((output._display_len(row[i]) for row in rows[:200] if i < len(row)),
                      default=0)
        header = max(len(word) for word in str(name).split()) if str(name).strip() else 4
        ws.column_dimensions[get_column_letter(i + 1)].width = min(max(longest, header, 6) + 2,
                                                                   50)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
    head = []
    for name in columns:
        c = WriteOnlyCell(ws, value=str(name))
        c.font, c.fill = Font(bold=True), PatternFill("solid", fgColor="D9D9D9")
        c.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        c.border = Border(bottom=Side(style="thin"))
        head.append(c)
    ws.append(head)
    for row in rows:
        out: list[Any] = []
        for value in row:
            if isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
                c = WriteOnlyCell(ws, value=value)
                c.data_type = "s"  # never a formula (nor an error value: the new behaviour)
                out.append(c)
            elif isinstance(value, dt.datetime):
                c = WriteOnlyCell(ws, value=value.replace(tzinfo=None))
                c.number_format = "dd/mm/yyyy hh:mm"
                out.append(c)
            elif isinstance(value, dt.date):
                c = WriteOnlyCell(ws, value=value)
                c.number_format = "dd/mm/yyyy"
                out.append(c)
            else:
                out.append(float(value) if isinstance(value, Decimal) else value)
        ws.append(out)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xlsx_rows() -> list[list[Any]]:
    import datetime as dt
    from decimal import Decimal

    wib = dt.timezone(dt.timedelta(hours=7))
    values: list[Any] = [
        *TRICKY[:-2], "=HYPERLINK(\"http://x\")", "+62 812 000", "-", "@sum", "#N/A",
        "#DIV/0!", "x" * 40_000, 0, 7, -5, 10**20, 4.5, 1 / 3, Decimal("2.50"), True, False,
        None, dt.date(2026, 11, 2), dt.date(1900, 1, 15), dt.datetime(2026, 11, 2, 13, 45, 12),
        dt.datetime(2026, 11, 2, 13, 45, tzinfo=wib),
    ]
    return [[values[(i + j) % len(values)] for j in range(len(REGISTER_COLUMNS))]
            for i in range(len(values) * 2)]


def expected_cell(value: Any) -> Any:
    import datetime as dt
    from decimal import Decimal

    if isinstance(value, str):
        return _ILLEGAL.sub("", value)[:32767] or None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, Decimal):
        return float(value)
    return value


def test_register_xlsx_reads_back_as_given() -> None:
    import datetime as dt

    from openpyxl import load_workbook

    rows = xlsx_rows()
    calls: list[tuple[int, int]] = []
    content = output.register_xlsx(REGISTER_COLUMNS, rows, title="Daftar induk",
                                   progress=lambda done, total: calls.append((done, total)))
    wb = load_workbook(io.BytesIO(content))
    ws = wb["Register"]
    assert [c.value for c in ws[1]] == list(REGISTER_COLUMNS)
    assert ws.max_row == len(rows) + 1
    for row, cells in zip(rows, ws.iter_rows(min_row=2), strict=True):
        for value, cell in zip(row, cells, strict=True):
            assert cell.value == expected_cell(value), (cell.coordinate, value)
            if isinstance(value, str) and cell.value is not None:
                assert cell.data_type == "s", cell.coordinate  # '=...', '#N/A' stay text
            if isinstance(value, dt.datetime):
                assert cell.number_format == "dd/mm/yyyy hh:mm"
            elif isinstance(value, dt.date):
                assert cell.number_format == "dd/mm/yyyy"
    assert calls == [(len(rows), len(rows))]
    assert wb.properties.title == "Daftar induk" and wb.properties.creator == "mailproc"


def test_register_xlsx_same_sheet_as_openpyxl_cells() -> None:
    """Headers, styles, widths, freeze pane, autofilter and every cell as the openpyxl
    write-only cells gave them ('#N/A' aside: text now, an error value before)."""
    from openpyxl import load_workbook

    rows = [[v for v in row if not (isinstance(v, str) and v.startswith("#"))][:19]
            for row in xlsx_rows() * 2]
    rows = [row + [None] * (19 - len(row)) for row in rows]
    new = load_workbook(io.BytesIO(output.register_xlsx(REGISTER_COLUMNS, rows, title="t")))
    old = load_workbook(io.BytesIO(reference_xlsx(list(REGISTER_COLUMNS), rows)))
    a, b = new["Register"], old["Register"]
    assert (a.freeze_panes, a.auto_filter.ref) == (b.freeze_panes, b.auto_filter.ref)
    assert {k: d.width for k, d in a.column_dimensions.items()} == \
        {k: d.width for k, d in b.column_dimensions.items()}
    assert (a.max_row, a.max_column) == (b.max_row, b.max_column)
    for ra, rb in zip(a.iter_rows(), b.iter_rows(), strict=True):
        for ca, cb in zip(ra, rb, strict=True):
            assert (ca.value, ca.data_type, ca.number_format) == \
                (cb.value, cb.data_type, cb.number_format), ca.coordinate
            assert [repr(x) for x in (ca.font, ca.fill, ca.alignment, ca.border)] == \
                [repr(x) for x in (cb.font, cb.fill, cb.alignment, cb.border)], ca.coordinate


def test_register_xlsx_without_rows() -> None:
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(output.register_xlsx(REGISTER_COLUMNS, [], title="t")))[
        "Register"]
    assert [c.value for c in ws[1]] == list(REGISTER_COLUMNS)
    assert ws.max_row == 1 and ws.auto_filter.ref == "A1:S1" and ws.freeze_panes == "A2"
