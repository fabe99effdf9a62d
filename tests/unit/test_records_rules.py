"""The pure rules of records kept as the law asks (domain.records_law): which complaints are
past retention on a given day, the latest purge date allowed, the pseudonym, and what the
redaction of a customer's personal data replaces and what it leaves."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from mailproc.domain import records_law as law

WIB = ZoneInfo("Asia/Jakarta")


def test_the_latest_purge_date_is_the_retention_period_back_from_today():
    assert law.latest_purge_date(date(2031, 3, 10), 5) == date(2026, 3, 10)
    assert law.latest_purge_date(date(2032, 2, 29), 5) == date(2027, 2, 28)
    law.check_purge_date(date(2026, 3, 10), date(2031, 3, 10), 5)  # the boundary is allowed
    law.check_purge_date(date(2020, 1, 1), date(2031, 3, 10), 5)
    with pytest.raises(law.RetentionError) as caught:
        law.check_purge_date(date(2026, 3, 11), date(2031, 3, 10), 5)
    assert "2026-03-11 is inside the retention period" in str(caught.value)
    assert "--before 2026-03-10" in str(caught.value)


def test_only_finished_complaints_closed_before_the_day_are_past_retention():
    bound = law.purge_bound(date(2026, 3, 10), WIB)
    assert bound == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)  # midnight in Jakarta
    before = datetime(2026, 3, 9, 16, 59, tzinfo=UTC)
    after = datetime(2026, 3, 9, 17, 0, tzinfo=UTC)  # 10 March 00:00 WIB
    assert law.past_retention("closed", before, bound)
    assert law.past_retention("rejected", before, bound)
    assert not law.past_retention("closed", after, bound)
    assert not law.past_retention("implemented", before, bound)  # still open
    assert not law.past_retention("closed", None, bound)


def test_the_pseudonym_is_stable_and_holds_no_address():
    name = law.pseudonym(" Budi.Santoso@Mitra-Pangan.example.com ")
    assert name == law.pseudonym("budi.santoso@mitra-pangan.example.com")
    assert name.startswith("pelanggan-") and len(name) == len("pelanggan-") + 10
    assert "budi" not in name
    assert law.address_digest("BUDI@x.example") == law.address_digest("budi@x.example")
    assert law.pseudonym("ani@x.example") != law.pseudonym("budi@x.example")


def redact() -> law.Redactor:
    return law.redactor("pelanggan-1", emails=["budi.santoso@mitra-pangan.example.com"],
                        names=["Budi Santoso", "CV Mitra Pangan", ""],
                        phones=["0812-3456-7890", ""])


def test_the_redaction_replaces_name_organisation_address_and_phone_only():
    text = ("Setelah kami periksa, 15 pcs retak di bagian leher (batch LOT-2611-07).\n"
            "Terima kasih,\nBudi  Santoso\nPurchasing - CV MITRA PANGAN\n"
            "HP +62 812 3456 7890 / 081234567890, email Budi.Santoso@mitra-pangan.example.com")
    out = redact().text(text)
    assert "Setelah kami periksa, 15 pcs retak di bagian leher (batch LOT-2611-07)." in out
    assert "Budi" not in out and "MITRA" not in out and "mitra-pangan" not in out
    assert "3456" not in out and "7890" not in out
    assert out.count("pelanggan-1") == 5
    assert "Purchasing - pelanggan-1" in out


def test_the_redaction_leaves_words_that_merely_contain_a_name_and_other_numbers():
    r = law.redactor("p", names=["Ani"], phones=["12345"], emails=["ani@x.example"])
    # A name matches only as a whole word; a short number is no telephone number.
    assert r.text("Analisis: Ani, bukan Ania; lot 12345") == "Analisis: p, bukan Ania; lot 12345"
    assert r.text("kontak: dani@x.example") == "kontak: dani@x.example"
    assert law.redactor("p").text("Budi") == "Budi"  # nothing to replace


def test_the_redaction_of_event_data_never_touches_archive_paths():
    r = redact()
    data = {"to": ["budi.santoso@mitra-pangan.example.com"], "subject": "Keluhan Budi Santoso",
            "archive": "2026/11/001/budi-santoso.eml",
            "files": [{"path": "2026/11/001/Budi Santoso.png", "sha256": "ab"}], "cycle": 1}
    assert r.value(data) == {"to": ["pelanggan-1"], "subject": "Keluhan pelanggan-1",
                             "archive": "2026/11/001/budi-santoso.eml",
                             "files": [{"path": "2026/11/001/Budi Santoso.png",
                                        "sha256": "ab"}], "cycle": 1}
    assert r.changes("Budi Santoso") and not r.changes("Pak Budi")


def test_a_telephone_number_is_told_from_a_name():
    assert law.looks_like_phone("+62 812-3456-7890") and law.looks_like_phone("(021) 555 1234")
    assert not law.looks_like_phone("CV Mitra Pangan") and not law.looks_like_phone("12-34")
    assert not law.looks_like_phone("LOT-2611-07 batch")
