"""mailproc.domain.mailrules: auto-reply verdict and inline-forward rules on plain values."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from mailproc.domain.mailrules import (
    InlineForward,
    auto_reply_reason,
    find_inline_forward,
    forward_sent_at,
    strip_forward_prefix,
)

# -------------------------------------------------------------------- auto_reply_reason


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"auto-submitted": "Auto-Generated; x (vacation)"}, "Auto-Submitted: auto-generated"),
        ({"X-Auto-Response-Suppress": ""}, "X-Auto-Response-Suppress"),  # presence is enough
        ({"List-Id": "<x.example.com>"}, "List-Id"),
        ({"List-Unsubscribe": "<mailto:u@example.com>"}, "List-Unsubscribe"),
        ({"Precedence": " Bulk "}, "Precedence: bulk"),
        ({"Precedence": "auto_reply"}, "Precedence: auto_reply"),
        ({"X-Autoreply": "yes"}, "X-Autoreply"),
        ({"X-Autorespond": ""}, "X-Autorespond"),
        ({"Return-Path": "< >"}, "Return-Path: <>"),
    ],
)
def test_auto_reply_reason_from_headers(headers: dict[str, str], reason: str) -> None:
    assert auto_reply_reason(headers) == reason


def test_auto_reply_reason_human_mail() -> None:
    assert auto_reply_reason({}) == ""
    assert auto_reply_reason({"Auto-Submitted": "no", "Precedence": "normal"}) == ""
    assert auto_reply_reason({"Return-Path": "<budi@example.com>"}, subject="Keluhan") == ""
    assert auto_reply_reason({}, subject="Re: Out of Office: sampai Senin") == ""
    assert auto_reply_reason({}, sender_locals=["budi", "daemon"]) == ""


def test_auto_reply_reason_from_subject_and_sender() -> None:
    assert auto_reply_reason({}, subject="Balasan otomatis: Keluhan") == (
        "subjek balasan otomatis (balasan otomatis)"
    )
    assert auto_reply_reason({}, subject="Undeliverable: PTPP-2025-0042").startswith("subjek")
    assert auto_reply_reason({}, sender_locals=["budi", "MAILER-DAEMON"]) == (
        "pengirim mailer-daemon"
    )


def test_auto_reply_reason_reports_most_specific_first() -> None:
    everything = {"Auto-Submitted": "auto-replied", "Precedence": "bulk", "List-Id": "x"}
    assert (
        auto_reply_reason(
            everything,
            sender_locals=["postmaster"],
            content_type="multipart/report",
            report_type="delivery-status",
        )
        == "multipart/report (DSN)"
    )
    assert (
        auto_reply_reason(everything, content_type="Multipart/Report", report_type="x")
        == "multipart/report"
    )
    assert auto_reply_reason(everything, sender_locals=["postmaster"]) == "pengirim postmaster"
    assert auto_reply_reason(everything) == "Auto-Submitted: auto-replied"
    assert auto_reply_reason({"Precedence": "list", "List-Id": "x"}) == "List-Id"


# -------------------------------------------------------------------- find_inline_forward


def test_find_inline_forward_gmail_marker() -> None:
    text = (
        "Tolong dibuatkan PTPP.\n\n---------- Forwarded message ---------\n"
        "From: Siti Rahmawati <siti@example.test>\nDate: Mon, 24 Nov 2025\n"
        "Subject: kemasan penyok\nTo: <sales@contoh.co.id>\n\n\nSelamat pagi,\nisi asli.\n"
    )
    assert find_inline_forward(text) == InlineForward(
        "Siti Rahmawati <siti@example.test>", "Selamat pagi,\nisi asli.", "Mon, 24 Nov 2025"
    )


def test_find_inline_forward_outlook_block_cleans_the_sender() -> None:
    text = (
        "Mohon diproses.\n\n*From:* *Budi* [mailto:budi@example.com]\n"
        "*Sent:* Monday, November 24, 2025 9:15 AM\n*Subject:* kemasan penyok\n\n"
        "> Isi keluhan\n> asli.\n"
    )
    assert find_inline_forward(text) == InlineForward(
        "Budi <budi@example.com>", "Isi keluhan\nasli.", "Monday, November 24, 2025 9:15 AM"
    )


def test_find_inline_forward_marker_without_headers_or_sender() -> None:
    found = find_inline_forward("FYI\n-----Original Message-----\nIsi asli tanpa header.\n")
    assert found == InlineForward("", "Isi asli tanpa header.")


def test_find_inline_forward_none() -> None:
    assert find_inline_forward("Keluhan langsung: barang rusak.\nFrom: kami di gudang") is None
    assert find_inline_forward("") is None


@pytest.mark.parametrize(("subject", "stripped"), [
    ("Fwd: FW: Barang rusak", "Barang rusak"),
    ("TR: Diteruskan: terusan: botol retak", "botol retak"),
    ("WG: Reklamation", "Reklamation"),
    ("RE: Barang rusak", "RE: Barang rusak"),  # a reply is not a forward
    ("Fwd:", "Fwd:"),  # nothing left: keep what was written
    ("Forwarding agent terlambat", "Forwarding agent terlambat"),
])
def test_strip_forward_prefix(subject: str, stripped: str) -> None:
    assert strip_forward_prefix(subject) == stripped


# -------------------------------------------------------------------- forward_sent_at


@pytest.mark.parametrize(("value", "expected"), [
    ("Mon, 16 Nov 2026 09:12:00 +0700", datetime(2026, 11, 16, 2, 12, tzinfo=UTC)),
    ("Mon, Nov 16, 2026 at 9:12 AM", datetime(2026, 11, 16, 2, 12, tzinfo=UTC)),
    ("Monday, November 16, 2026 2:05 PM", datetime(2026, 11, 16, 7, 5, tzinfo=UTC)),
    ("Senin, 16 November 2026 09.12", datetime(2026, 11, 16, 2, 12, tzinfo=UTC)),
    ("Kamis, 3 Desember 2026 pukul 14.30", datetime(2026, 12, 3, 7, 30, tzinfo=UTC)),
    ("16/11/2026 9:12", datetime(2026, 11, 16, 2, 12, tzinfo=UTC)),
    ("Mon, 24 Nov 2025", datetime(2025, 11, 23, 17, 0, tzinfo=UTC)),
    ("kemarin sore", None), ("", None), ("31/02/2026", None),
])
def test_forward_sent_at(value: str, expected: datetime | None) -> None:
    assert forward_sent_at(value, ZoneInfo("Asia/Jakarta")) == expected
