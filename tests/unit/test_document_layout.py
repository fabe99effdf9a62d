"""The documents as a reader sees them (issue #13, item 12): signature tables never split
across pages, and the closure report carries the correction's date and performer and the
documents revised."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

REPO = Path(__file__).resolve().parents[2]


def _signature_tables(path: Path) -> list:
    """The signature tables: four rows, the role, the space to sign, 'Nama:', 'Tanggal:'."""
    doc = Document(str(path))
    return [t for t in doc.tables
            if len(t.rows) == 4 and t.rows[2].cells[0].text.startswith("Nama:")
            and t.rows[3].cells[0].text.startswith("Tanggal:")]


@pytest.mark.parametrize("name", ["retur.docx", "closure.docx", "ptpp.docx", "recap.docx"])
def test_signature_tables_stay_whole(name: str):
    tables = _signature_tables(REPO / "doc_templates" / name)
    assert tables, f"{name}: no signature table found"
    for table in tables:
        rows = table._tbl.findall(qn("w:tr"))
        for i, tr in enumerate(rows):
            assert tr.find(f"{qn('w:trPr')}/{qn('w:cantSplit')}") is not None
            if i < len(rows) - 1:  # kept with the next row: no break inside the table
                for p in tr.iter(qn("w:p")):
                    assert p.find(f"{qn('w:pPr')}/{qn('w:keepNext')}") is not None, (name, i)


def test_the_closure_report_shows_the_correction_and_the_documents_revised(tmp_path: Path):
    from dataclasses import replace
    from datetime import UTC, date, datetime

    from appfixture import LocalApp
    from test_prerender import open_app

    from mailproc.ops.doctor import sample_record
    from mailproc.reports import jobs

    app = open_app(LocalApp(tmp_path))
    record = sample_record(datetime(2026, 11, 30, 3, 0, tzinfo=UTC))
    cycles = tuple(replace(c, correction_date=date(2026, 11, 14), correction_by="Supervisor QC",
                           documents_revised="IK-PRD-07 rev. 03") for c in record.cycles)
    _, content = jobs.render_closure(app, record.number, replace(record, cycles=cycles))
    rows = [" | ".join(c.text.strip() for c in row.cells)
            for t in Document(io.BytesIO(content)).tables for row in t.rows]
    assert any("Tanggal koreksi" in r and "14/11/2026" in r and "Supervisor QC" in r
               for r in rows), rows
    assert any("Dokumen yang direvisi" in r and "IK-PRD-07 rev. 03" in r for r in rows)
