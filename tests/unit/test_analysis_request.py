"""Procedure step 7 in the domain: when asking for the analysis sends it at once, and which
customer sentences ask for it (issue #13, item 4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailproc.domain.lifecycle import Case
from mailproc.domain.replies import asks_for_analysis

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_asked_after_the_plan_arrived_it_goes_now_once():
    case, _ = Case.register("001", "qc", AT, {})
    case.issue(AT, AT)
    [before] = case.set_send_analysis(True)
    assert "send_cycle" not in before.data  # no plan yet: it goes with the plan
    case.set_send_analysis(False)
    case.receive_plan(AT, {})
    [now] = case.set_send_analysis(True)
    assert now.data == {"wanted": True, "send_cycle": 1}
    [again] = case.set_send_analysis(True)
    assert "send_cycle" not in again.data  # already asked (and sent): not twice
    [off] = case.set_send_analysis(False)
    assert off.data == {"wanted": False}


@pytest.mark.parametrize("text", [
    "Mohon dikirimkan hasil analisanya.",
    "Kami minta laporan 8D untuk kasus ini",
    "Tolong kirim analisa akar masalahnya ya pak",
    "Bisa share root cause dan rencana perbaikannya?",
    "Selamat pagi.\nHasil investigasinya kami tunggu.",
    "Please send the CAPA report",
])
def test_a_request_for_the_analysis(text: str):
    assert asks_for_analysis(text)


@pytest.mark.parametrize("text", [
    "Terima kasih, barang pengganti sudah kami terima.",
    "Analisanya tidak perlu dikirim, cukup diganti saja.",
    "Mohon segera dikirim barang penggantinya.",
    "Kami sudah melakukan analisa internal sendiri.",
])
def test_not_a_request_for_the_analysis(text: str):
    assert not asks_for_analysis(text)
