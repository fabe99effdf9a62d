"""Issue #13 item 12: one date style per kind of text."""

from __future__ import annotations


def test_one_date_style_per_kind_of_text():
    """Mail: '5 November 2026' and '5 November 2026 14:05 WIB'; forms and reports:
    '05/11/2026' and '05/11/2026 14:05 WIB' (mailproc.outgoing.texts)."""
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from mailproc.outgoing.texts import (
        format_date_id,
        format_datetime_doc,
        format_datetime_id,
        format_day_id,
    )

    wib = ZoneInfo("Asia/Jakarta")
    moment = datetime(2026, 11, 4, 22, 5, tzinfo=UTC)  # 5 November 05:05 in Jakarta
    assert format_day_id(moment, wib) == "5 November 2026"
    assert format_day_id(date(2026, 11, 5), wib) == "5 November 2026"
    assert format_datetime_id(moment, wib) == "5 November 2026 05:05 WIB"
    assert format_date_id(moment, wib) == "05/11/2026"
    assert format_datetime_doc(moment, wib) == "05/11/2026 05:05 WIB"
    assert format_day_id(None, wib, "-") == format_datetime_doc(None, wib, "-") == "-"
