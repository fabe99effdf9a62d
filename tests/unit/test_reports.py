"""Report files: chart PNGs, the recap and closure Word reports, register .xlsx / .csv."""

from __future__ import annotations

import csv
import datetime as dt
import io
import struct
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from mailproc.reports.output import (
    REGISTER_COLUMNS,
    chart_png,
    register_csv,
    register_xlsx,
    render_closure,
    render_recap,
)

REPO = Path(__file__).resolve().parents[2]
RECAP = REPO / "doc_templates" / "recap.docx"
CLOSURE = REPO / "doc_templates" / "closure.docx"
COMPANY = {"name": "PT Contoh Manufaktur Indonesia", "address": "Jl. Industri Raya No. 10"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(content: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    assert content[:8] == PNG_MAGIC
    length, kind = struct.unpack(">I4s", content[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", content[16:24])


def cell_text(cell: Any) -> str:
    return cell.text.replace("\u00ad", "")


def docx_text(content: bytes) -> str:
    doc = Document(io.BytesIO(content))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


# ---- charts -------------------------------------------------------------------------------

CHART_DATA: dict[str, Any] = {
    "per_month": [("2025-12", 4), ("2026-01", 0), ("2026-11", 12)],
    "pareto": [("Kualitas produk", 10, 50.0), ("Kemasan rusak dan basah saat diterima", 6, 80.0),
               ("Salah kirim", 4, 100.0)],
    "on_target": (14, 3),
    "median": [("2026-10", 6), ("2026-11", 4.5), ("2026-12", None)],
}


@pytest.mark.parametrize("kind", sorted(CHART_DATA))
def test_chart_png_is_a_png_of_the_expected_size(kind: str) -> None:
    content = chart_png(kind, CHART_DATA[kind], title="Grafik uji")
    width, height = png_size(content)
    assert (width, height) == (1200, 712)  # 16 x 9.5 cm: two to an A4 page
    assert b"Software" not in content[:4096]  # no tool/version text chunk
    assert chart_png(kind, CHART_DATA[kind], title="Grafik uji") == content  # deterministic


def test_chart_png_variants() -> None:
    assert png_size(chart_png("per_month", [], title="Kosong")) == (1200, 712)
    assert png_size(chart_png("pareto", [("A", 3), ("B", 1)], title="")) == (1200, 712)
    assert png_size(chart_png("on_target", [("Tepat waktu", 0), ("Terlambat", 0)],
                              title="")) == (1200, 712)
    with pytest.raises(ValueError):
        chart_png("pie", [], title="x")


def test_chart_png_does_not_keep_figures() -> None:
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    for _ in range(3):
        chart_png("per_month", CHART_DATA["per_month"], title="x")
    assert len(plt.get_fignums()) == before


# ---- recap --------------------------------------------------------------------------------


def register_row(n: int, customer: str, description: str) -> list[str]:
    row = [str(n), f"{n:03d}/PTPP/MKT/XI/2026", "02/11/2026", customer, "email",
           "Botol PET 600 ml", "LOT-2611-07", "1.200", "Kualitas produk", description, "Y",
           "QC / Budi", "03/11/2026", "12/11/2026", "11/11/2026", "7", "Closed",
           "Y, 001/RTR/MKT/XI/2026", ""]
    assert len(row) == len(REGISTER_COLUMNS)
    return row


RECAP_ROWS = [
    register_row(1, "CV Maju & Jaya <Bekasi>", "Botol retak pada leher."),
    register_row(2, "PT Pelanggan Setia", "Tulisan {{ x }} dan {% if %} apa adanya"),
    register_row(3, "UD Sumber Rejeki", "Dus penyok\u00a0& basah"),
]


def recap_context(rows: list[list[str]]) -> dict[str, Any]:
    return {
        "company": COMPANY,
        "doc": {"number": "BKI.FM.MKT.07", "revision": "01", "revision_date": "18/09/2023"},
        "period": "November 2026",
        "generated": "01/12/2026",
        "prepared_by": "Rina",
        "summary": {"total": 3, "valid": 3, "closed": 2, "open": 1,
                    "on_target_pct": "50% (1/2)", "median_days": "4,5"},
        "rows": rows,
    }


def test_render_recap() -> None:
    charts = [("Keluhan per bulan", chart_png("per_month", CHART_DATA["per_month"], title="")),
              ("Pareto kategori", chart_png("pareto", CHART_DATA["pareto"], title=""))]
    content = render_recap(RECAP, recap_context(RECAP_ROWS), charts)
    doc = Document(io.BytesIO(content))

    # The register: the table whose first row holds the 19 column names.
    register = next(t for t in doc.tables
                    if [cell_text(c) for c in t.rows[0].cells] == list(REGISTER_COLUMNS))
    body = [[cell_text(c) for c in row.cells] for row in register.rows[1:]]
    assert body == RECAP_ROWS
    assert register.rows[0]._tr.trPr.find(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}tblHeader") is not None

    header = "\n".join(c.text for t in doc.sections[0].header.tables for row in t.rows
                       for c in row.cells)
    assert "BKI.FM.MKT.07" in header and "PT Contoh Manufaktur Indonesia" in header
    # The review pages portrait, the register's section landscape, each with the header.
    assert doc.sections[0].page_width < doc.sections[0].page_height
    assert doc.sections[1].page_width > doc.sections[1].page_height
    assert "BKI.FM.MKT.07" in "\n".join(c.text for t in doc.sections[1].header.tables
                                         for row in t.rows for c in row.cells)

    text = docx_text(content)
    assert "November 2026" in text and "50% (1/2)" in text and "4,5" in text
    assert "Keluhan per bulan" in text and "Pareto kategori" in text
    assert "[[chart-" not in text  # every marker became a picture
    assert len(doc.inline_shapes) == 2
    xml = zipfile.ZipFile(io.BytesIO(content)).read("word/document.xml")
    assert xml.count(b"<a:blip ") == 2
    media = [n for n in zipfile.ZipFile(io.BytesIO(content)).namelist()
             if n.startswith("word/media/")]
    assert len(media) == 2
    # 16 cm wide, the height from the image: 9.5 cm, two charts to a portrait page.
    assert abs(doc.inline_shapes[0].width.cm - 16) < 0.1
    assert abs(doc.inline_shapes[0].height.cm - 9.5) < 0.1


def test_render_recap_without_rows_or_charts() -> None:
    content = render_recap(RECAP, recap_context([]), [])
    text = docx_text(content)
    assert "Tidak ada keluhan pada periode ini." in text
    assert "Tidak ada grafik." in text
    assert len(Document(io.BytesIO(content)).inline_shapes) == 0


# ---- closure ------------------------------------------------------------------------------


def closure_context() -> dict[str, Any]:
    def cycle(n: int, root: str, result: str) -> dict[str, Any]:
        return {"number": n, "correction": f"Koreksi {n}", "whys": [f"W{n}.1", f"W{n}.2"],
                "category_6m": "Mesin", "root_cause": root,
                "actions": [{"no": 1, "cause": f"Sebab {n}", "corrective": f"Korektif {n}",
                             "preventive": f"Pencegahan {n}", "pic": "QC",
                             "target": "20/11/2026"}],
                "completion_date": "20/11/2026", "completion_evidence": "Foto",
                "result": result, "note": f"Catatan {n}", "verifier": "Rina",
                "verification_date": "27/11/2026"}

    return {
        "company": COMPANY,
        "doc": {"number": "BKI.FM.MKT.08", "revision": "00", "revision_date": "18/09/2023"},
        "ptpp_number": "001/PTPP/MKT/XI/2026", "date": "28/11/2026",
        "closing_date": "27/11/2026",
        "complaint": {"number": "KEL-2026-0001", "received": "02/11/2026",
                      "customer": "CV A & B <x>", "channel": "email", "product": "Botol",
                      "batch": "LOT-1", "quantity": "1.200 pcs", "category": "Kualitas produk",
                      "department": "Quality Control", "description": "Retak {{ x }}"},
        "cycles": [cycle(1, "Suhu cetakan tidak stabil", "Tidak efektif"),
                   cycle(2, "Filter pengering tersumbat", "Efektif")],
        "lead": {"first_response": "1 hari kerja", "analysis": "3 hari kerja",
                 "closing": "19 hari kerja"},
    }


def test_render_closure() -> None:
    content = render_closure(CLOSURE, closure_context())
    text = docx_text(content)
    for expected in ("Suhu cetakan tidak stabil", "Filter pengering tersumbat",
                     "1 hari kerja", "3 hari kerja", "19 hari kerja", "SIKLUS 1", "SIKLUS 2",
                     "W2.2", "Korektif 2", "CV A & B <x>", "Retak {{ x }}", "27/11/2026"):
        assert expected in text, expected
    header = "\n".join(c.text for t in Document(io.BytesIO(content)).sections[0].header.tables
                       for row in t.rows for c in row.cells)
    assert "BKI.FM.MKT.08" in header


# ---- register exports ---------------------------------------------------------------------


def register_rows(count: int) -> list[list[Any]]:
    base = dt.date(2026, 1, 1)
    rows = []
    for n in range(1, count + 1):
        received = base + dt.timedelta(days=n % 365)
        rows.append([n, f"{n:05d}/PTPP/MKT/XI/2026", received, "CV Maju & Jaya", "email",
                     "Botol PET 600 ml", "LOT-1", 1200, "Kualitas produk",
                     "Botol retak pada leher", "Y", "QC", received, None,
                     received + dt.timedelta(days=7) if n % 3 else None,
                     5 if n % 3 else None, "Closed" if n % 3 else "Open", "T", ""])
    return rows


def test_register_xlsx() -> None:
    from openpyxl import load_workbook

    rows = register_rows(3)
    rows[0][9] = "=HYPERLINK(\"http://x\")"  # customer text stays text
    calls: list[tuple[int, int]] = []
    content = register_xlsx(REGISTER_COLUMNS, rows, title="Daftar induk",
                            progress=lambda done, total: calls.append((done, total)))
    wb = load_workbook(io.BytesIO(content))
    assert wb.sheetnames == ["Register"]
    ws = wb["Register"]
    assert [c.value for c in ws[1]] == list(REGISTER_COLUMNS)
    assert ws["A1"].font.b
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:S4"
    date_cell = ws["C2"]
    assert isinstance(date_cell.value, dt.datetime)
    assert date_cell.value.date() == rows[0][2]
    assert date_cell.number_format == "dd/mm/yyyy"
    assert ws["A2"].value == 1 and ws["H2"].value == 1200
    assert ws["N2"].value is None
    assert ws["J2"].data_type == "s" and ws["J2"].value == rows[0][9]
    assert wb.properties.title == "Daftar induk"
    assert calls == [(3, 3)]
    assert 10 <= ws.column_dimensions["J"].width <= 50


def test_register_xlsx_10000_rows_is_fast() -> None:
    rows = register_rows(10_000)
    calls: list[tuple[int, int]] = []
    start = time.perf_counter()
    content = register_xlsx(REGISTER_COLUMNS, rows, title="Daftar induk",
                            progress=lambda done, total: calls.append((done, total)))
    elapsed = time.perf_counter() - start
    print(f"register_xlsx: 10,000 rows in {elapsed:.2f} s, {len(content) / 1e6:.1f} MB")
    assert elapsed < 10
    assert calls[0] == (500, 10_000) and calls[-1] == (10_000, 10_000) and len(calls) == 20


def test_register_csv_round_trip() -> None:
    rows = [["1", "001/PTPP", "CV Maju & Jaya", 'kata "kutip", koma', "baris\nbaru", ""],
            ["2", "002/PTPP", "Ibu Siti", "kerusakan; retak", "-", "ë é"]]
    columns = ["No", "No. PTPP", "Pelanggan", "Uraian", "Status", "Keterangan"]
    content = register_csv(columns, rows)
    assert content.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert parsed == [columns, *rows]


def test_register_csv_values() -> None:
    content = register_csv(["a", "b", "c", "d", "e"],
                           [[dt.date(2026, 11, 2), None, 7, 4.5, "=1+1"]])
    parsed = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert parsed[1] == ["2026-11-02", "", "7", "4.5", "'=1+1"]
