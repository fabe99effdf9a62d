"""Reading a customer's rating and summing ratings up (issue #13, item 9)."""

from __future__ import annotations

import pytest

from mailproc.domain.satisfaction import label, rating_of, summarise


@pytest.mark.parametrize(("text", "rating"), [
    ("4", 4), ("Nilai: 5", 5), ("4/5, terima kasih", 4), ("2 dari 5", 2), ("Bintang 3", 3),
    ("5!\nPelayanan cepat.", 5), ("Sangat puas, terima kasih", 5), ("puas", 4),
    ("Terima kasih, cukup baik", 3), ("kurang puas karena lama", 2),
    ("Kami sangat tidak puas", 1), ("Jujur kami kecewa", 2),
])
def test_ratings(text: str, rating: int):
    assert rating_of(text) == rating


@pytest.mark.parametrize("text", [
    "Barang sudah diterima 20 pcs", "4 pcs masih retak", "2 hari lalu teknisi datang",
    "Mohon info jadwal kunjungan teknisi.", "",
])
def test_no_rating(text: str):
    assert rating_of(text) is None


def test_summary_and_labels():
    s = summarise([4, None, 5, 2, 4, 9])
    assert (s.count, s.average, s.distribution) == (4, 3.8, (0, 1, 0, 2, 1))
    assert summarise([]).average is None
    assert label(2) == "2 (Tidak puas)" and label(None) == "Belum dinilai pelanggan"
