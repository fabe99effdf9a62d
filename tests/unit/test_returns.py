"""The return claim's steps in the domain (issue #13, item 6)."""

from __future__ import annotations

import pytest

from mailproc.domain.returns import (
    ReturnError,
    ReturnState,
    decide,
    inspect,
    register_text,
    settle,
    settlement_key,
    settlement_of,
)


def test_the_steps_in_order_and_what_the_register_says():
    s = ReturnState()
    assert register_text("", True, s) == "Y" and register_text("", False, s) == "T"
    with pytest.raises(ReturnError, match="inspection result first"):
        decide(s, approved=True)
    s = inspect(s, "15 botol retak")
    assert register_text("KR-7", True, s) == "Y, KR-7, diperiksa"
    with pytest.raises(ReturnError, match="needs the reason"):
        decide(s, approved=False)
    with pytest.raises(ReturnError, match="only an approved claim"):
        settle(s, "refund", "RF-1")
    approved = decide(s, approved=True)
    assert register_text("KR-7", True, approved) == "Y, KR-7, disetujui, belum diselesaikan"
    with pytest.raises(ReturnError, match="needs its document number"):
        settle(approved, "nota-kredit")
    done = settle(approved, "Nota kredit", "NK-1")
    assert register_text("KR-7", True, done) == "Y, KR-7, disetujui: Nota kredit NK-1"
    assert settle(approved, "ganti-barang").settlement == "ganti-barang"  # no number needed
    with pytest.raises(ReturnError, match="settled already"):
        inspect(done, "lagi")
    assert ReturnState.from_json(done.to_json()) == done
    rejected = decide(s, approved=False, reason="pecah di gudang pelanggan")
    assert register_text("KR-7", True, rejected) == "Y, KR-7, ditolak (pecah di gudang pelanggan)"


def test_settlement_words():
    assert settlement_key("NOTA KREDIT") == "nota-kredit" and settlement_key("x") is None
    assert settlement_of("Nota kredit NK-2612-004") == ("nota-kredit", "NK-2612-004")
    assert settlement_of("klaim ke ekspedisi: EXP-9") == ("klaim-ekspedisi", "EXP-9")
    assert settlement_of("Ganti barang") == ("ganti-barang", "")
    assert settlement_of("diskon") is None
