"""The form field catalogue and the rules a returned PTPP / return-claim form must meet."""

from __future__ import annotations

from datetime import date

import pytest

from mailproc.domain import forms
from mailproc.domain.forms import (
    FORMS,
    PTPP_FIELDS,
    RETURN_FIELDS,
    Action,
    FieldProblem,
    actions_from,
    detect_step,
    parse_date,
    parse_quantity,
    validate,
)

ISSUED = date(2026, 11, 25)


@pytest.mark.parametrize(("text", "expected"), [
    ("30/11/2026", date(2026, 11, 30)),
    ("1/2/2026", date(2026, 2, 1)),
    ("01/02/2026", date(2026, 2, 1)),
    ("30-11-2026", date(2026, 11, 30)),
    ("30.11.2026", date(2026, 11, 30)),
    ("30/11/26", date(2026, 11, 30)),
    (" 30 / 11 / 2026 ", date(2026, 11, 30)),
    ("2026-11-30", date(2026, 11, 30)),
    ("2026-11-30T00:00:00Z", date(2026, 11, 30)),  # Word's w:fullDate
    ("2026-11-30T00:00:00", date(2026, 11, 30)),
    ("30 November 2026", date(2026, 11, 30)),
    ("30 Nopember 2026", date(2026, 11, 30)),
    ("30 Nov 2026", date(2026, 11, 30)),
    ("30-Nov-2026", date(2026, 11, 30)),
    ("1 Januari 2027", date(2027, 1, 1)),
    ("14 Februari 2026", date(2026, 2, 14)),
    ("3 Maret 2026", date(2026, 3, 3)),
    ("3 Mar 2026", date(2026, 3, 3)),
    ("5 Mei 2026", date(2026, 5, 5)),
    ("17 Agustus 2026", date(2026, 8, 17)),
    ("17 Agt 2026", date(2026, 8, 17)),
    ("17 Agu 2026", date(2026, 8, 17)),
    ("1 Okt 2026", date(2026, 10, 1)),
    ("1 Okt. 2026", date(2026, 10, 1)),
    ("25 Des 2026", date(2026, 12, 25)),
    ("25 DESEMBER 2026", date(2026, 12, 25)),
    ("Senin, 30 November 2026", date(2026, 11, 30)),
    ("November 30, 2026", date(2026, 11, 30)),
])
def test_parse_date_reads_what_people_and_word_write(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "31/02/2026", "29/02/2026", "32/01/2026", "00/01/2026", "15/13/2026",
    "2026-02-30", "30 Smarch 2026", "besok", "dd/mm/yyyy", "30/11", "12345",
])
def test_parse_date_gives_none_for_what_it_cannot_read(text: str) -> None:
    assert parse_date(text) is None


def test_parse_date_takes_day_first_as_in_indonesia() -> None:
    assert parse_date("02/03/2026") == date(2026, 3, 2)
    assert parse_date("29/02/2028") == date(2028, 2, 29)  # leap year


@pytest.mark.parametrize(("text", "expected"), [
    ("35", 35.0), ("35 pcs", 35.0), ("1.200", 1200.0), ("2,5 kg", 2.5), ("10pcs", 10.0),
    ("lusin", None), ("", None),
])
def test_parse_quantity(text: str, expected: float | None) -> None:
    assert parse_quantity(text) == expected


def test_catalogue_names_are_unique_and_kinds_known() -> None:
    for fields in FORMS.values():
        names = [s.name for s in fields]
        assert len(names) == len(set(names))
        for spec in fields:
            assert spec.kind in ("text", "date", "dropdown", "checkbox")
            assert spec.required_for <= set(forms.STEPS)
            assert bool(spec.options) == (spec.kind == "dropdown")
    names = {s.name for s in PTPP_FIELDS}
    for name in ("ptpp_number", "cycle", "correction", "correction_date", "correction_by",
                 "why_1", "why_5", "category_6m", "root_cause", "action_1_cause",
                 "action_5_target", "documents_revised", "completion_date",
                 "completion_evidence", "verification_result", "verification_note",
                 "verification_status", "new_ptpp_number", "verification_date", "verifier",
                 "source_customer_complaint"):
        assert name in names
    assert {s.name for s in RETURN_FIELDS} >= {"claim_number", "ptpp_number", "item_5_unit",
                                                "reason_other", "decision", "settlement"}


def test_labels_are_unique_within_a_form_outside_the_tables() -> None:
    # The label fallback maps a printed label to one field.
    for fields in FORMS.values():
        labels = [s.label.casefold() for s in fields if not s.name.startswith(("action_", "item_"))]
        assert len(labels) == len(set(labels))


def test_actions_from_keeps_rows_with_any_cell_filled() -> None:
    values = {
        "action_1_corrective": "Kalibrasi mesin 3", "action_1_pic": "Produksi",
        "action_1_target": "05/12/2026",
        "action_2_cause": "  ",  # whitespace only: empty
        "action_3_preventive": "Jadwal kalibrasi bulanan",
        "action_4_target": "31/02/2026",
    }
    assert actions_from(values) == (
        Action(1, "", "Kalibrasi mesin 3", "", "Produksi", date(2026, 12, 5), "05/12/2026"),
        Action(3, "", "", "Jadwal kalibrasi bulanan", "", None, ""),
        Action(4, "", "", "", "", None, "31/02/2026"),
    )
    assert actions_from({}) == ()


def test_detect_step() -> None:
    assert detect_step({}) == "plan"
    assert detect_step({"root_cause": "x", "completion_date": " "}) == "plan"
    assert detect_step({"completion_evidence": "foto"}) == "implement"
    assert detect_step({"completion_date": "10/12/2026"}) == "implement"
    assert detect_step({"completion_date": "10/12/2026", "verification_result": "Efektif"}) \
        == "verify"


def plan(**extra: str) -> dict[str, str]:
    values = {
        "ptpp_number": "001/PTPP/MKT/XI/2026",
        "root_cause": "Pengendali suhu tidak dikalibrasi",
        "action_1_corrective": "Kalibrasi mesin 3",
        "action_1_pic": "Supervisor Produksi",
        "action_1_target": "05/12/2026",
    }
    values.update(extra)
    return values


def messages(problems: list[FieldProblem]) -> list[str]:
    return [str(p) for p in problems]


def test_a_complete_plan_passes() -> None:
    assert validate(plan(), "plan", issued_on=ISSUED) == []
    # Mengapa 1 stands in for the root cause; a target on the issue day is fine.
    values = plan(root_cause="", why_1="Botol retak", action_1_target="25/11/2026")
    assert validate(values, "plan", issued_on=ISSUED) == []


def test_plan_needs_a_root_cause_and_an_action() -> None:
    problems = validate({"ptpp_number": "001/PTPP/MKT/XI/2026"}, "plan", issued_on=ISSUED)
    assert problems == [
        FieldProblem("root_cause", "Akar penyebab", "wajib diisi (atau minimal Mengapa 1)"),
        FieldProblem("action_1_corrective", "Rencana tindakan",
                     "wajib diisi: minimal satu baris dengan tindakan korektif, PIC dan "
                     "target tanggal"),
    ]
    assert messages(problems)[0] == "Akar penyebab wajib diisi (atau minimal Mengapa 1)"


def test_plan_names_half_filled_rows() -> None:
    values = plan(action_2_corrective="Pelatihan operator", action_3_cause="Operator baru")
    assert messages(validate(values, "plan", issued_on=ISSUED)) == [
        "Tindakan baris 2: PIC wajib diisi",
        "Tindakan baris 2: Target tanggal wajib diisi",
        "Tindakan baris 3: Tindakan korektif wajib diisi",
        "Tindakan baris 3: PIC wajib diisi",
        "Tindakan baris 3: Target tanggal wajib diisi",
    ]


def test_plan_target_dates_must_be_readable_and_not_before_the_issue() -> None:
    values = plan(action_1_target="31/02/2026")
    assert messages(validate(values, "plan", issued_on=ISSUED)) == [
        "Tindakan baris 1: Target tanggal tidak dapat dibaca sebagai tanggal: '31/02/2026' "
        "(gunakan format dd/mm/yyyy)",
    ]
    values = plan(action_1_target="24/11/2026")
    assert validate(values, "plan", issued_on=ISSUED) == [
        FieldProblem("action_1_target", "Tindakan baris 1: Target tanggal",
                     "tidak boleh sebelum tanggal terbit PTPP (25/11/2026)"),
    ]


def test_any_filled_date_and_dropdown_must_be_valid() -> None:
    values = plan(correction_date="besok", category_6m="Uang")
    assert messages(validate(values, "plan", issued_on=ISSUED)) == [
        "Tanggal koreksi tidak dapat dibaca sebagai tanggal: 'besok' (gunakan format dd/mm/yyyy)",
        "Kategori 6M harus salah satu dari: Manusia, Mesin, Metode, Material, Pengukuran, "
        "Lingkungan (tertulis 'Uang')",
    ]
    # Case does not matter for a dropdown typed by hand; a correction before issue is fine.
    assert validate(plan(category_6m="mesin", correction_date="20/11/2026"), "plan",
                    issued_on=ISSUED) == []


def test_plan_requires_the_ptpp_number() -> None:
    values = plan(ptpp_number="")
    assert messages(validate(values, "plan", issued_on=ISSUED)) == ["No. PTPP wajib diisi"]


def test_implement_needs_completion_and_the_plan() -> None:
    assert messages(validate(plan(), "implement", issued_on=ISSUED)) == [
        "Tanggal selesai aktual wajib diisi",
        "Bukti penyelesaian wajib diisi",
    ]
    done = plan(completion_date="2026-12-10", completion_evidence="Sertifikat kalibrasi")
    assert validate(done, "implement", issued_on=ISSUED) == []
    early = plan(completion_date="01/11/2026", completion_evidence="x", root_cause="")
    assert messages(validate(early, "implement", issued_on=ISSUED)) == [
        "Akar penyebab wajib diisi (atau minimal Mengapa 1)",
        "Tanggal selesai aktual tidak boleh sebelum tanggal terbit PTPP (25/11/2026)",
    ]
    bad = plan(completion_date="31/02/2026", completion_evidence="x")
    assert messages(validate(bad, "implement", issued_on=ISSUED)) == [
        "Tanggal selesai aktual tidak dapat dibaca sebagai tanggal: '31/02/2026' "
        "(gunakan format dd/mm/yyyy)",
    ]


def test_a_completion_date_still_to_come_is_refused() -> None:
    done = plan(completion_date="2026-12-10", completion_evidence="Sertifikat kalibrasi")
    assert validate(done, "implement", issued_on=ISSUED, today=date(2026, 12, 10)) == []
    assert messages(validate(done, "implement", issued_on=ISSUED, today=date(2026, 12, 9))) == [
        "Tanggal selesai aktual tidak boleh di masa depan (hari ini 09/12/2026); isi tanggal "
        "tindakan benar-benar selesai, atau kirim formulir setelah tindakan selesai"]


def test_verify() -> None:
    assert messages(validate({}, "verify", issued_on=ISSUED)) == [
        "Hasil verifikasi wajib diisi",
        "Catatan evaluasi wajib diisi",
        "Tanggal verifikasi wajib diisi",
    ]
    ok = {"verification_result": "Tidak efektif", "verification_note": "Keluhan terulang",
          "verification_date": "15 Januari 2027", "verification_status": "Open"}
    assert validate(ok, "verify", issued_on=ISSUED) == []
    bad = dict(ok, verification_result="Lumayan", verification_date="15/15/2027",
               verification_status="Selesai")
    assert messages(validate(bad, "verify", issued_on=ISSUED)) == [
        "Hasil verifikasi harus salah satu dari: Efektif, Tidak efektif (tertulis 'Lumayan')",
        "Tanggal verifikasi tidak dapat dibaca sebagai tanggal: '15/15/2027' "
        "(gunakan format dd/mm/yyyy)",
        "Status harus salah satu dari: Open, Closed (tertulis 'Selesai')",
    ]


def test_claim() -> None:
    ok = {"claim_number": "001/RTR/MKT/XI/2026", "item_1_name": "Botol PET 600 ml",
          "item_1_qty_sent": "1.200", "item_1_qty_return": "35 pcs", "reason_damaged": "1"}
    assert validate(ok, "claim", issued_on=ISSUED) == []
    assert messages(validate({"claim_number": "1", "reason_damaged": "0"}, "claim",
                             issued_on=ISSUED)) == [
        "Barang yang diretur wajib diisi: minimal satu baris dengan kode/nama barang dan "
        "qty retur",
        "Alasan retur wajib dipilih (minimal satu)",
    ]
    bad = dict(ok, item_1_qty_return="2.000", item_2_batch="LOT-1", item_3_name="Tutup",
               item_3_qty_return="banyak", reason_other="1")
    assert messages(validate(bad, "claim", issued_on=ISSUED)) == [
        "Barang baris 1: Qty retur tidak boleh melebihi qty kirim (1.200)",
        "Barang baris 2: Kode / nama barang wajib diisi",
        "Barang baris 2: Qty retur wajib diisi",
        "Barang baris 3: Qty retur harus berupa angka lebih dari 0 (tertulis 'banyak')",
        "Alasan lainnya wajib diisi bila 'Lainnya' dipilih",
    ]


def test_unknown_step_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown step"):
        validate({}, "close", issued_on=ISSUED)
