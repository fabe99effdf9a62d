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
    rows[1] = {"not": "a list"}  # type: ignore[call-overload]
    assert output._RowPlan.of(RECAP, "n").rows_xml(rows, False) is None  # type: ignore[union-attr]


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
