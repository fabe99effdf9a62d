from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailproc.errors import ConfigError
from mailproc.outgoing.texts import MailTexts, format_datetime_id

REPO = Path(__file__).resolve().parents[2]


def test_customer_text_is_data_never_template():
    texts = MailTexts(REPO / "doc_templates")
    out = texts.render("notice_follow_up", number="001/PTPP/MKT/XI/2026", company_name="PT A",
                       sender_display="x <x@example.com>", subject="{{ 7 * 7 }}",
                       attachment_count=0, received_at="-", status_label="-",
                       text="{% for x in range(3) %}boom{% endfor %} & <b>", analysis_request=False)
    assert "{{ 7 * 7 }}" in out.body and "49" not in out.body
    assert "{% for x in range(3) %}boom{% endfor %} & <b>" in out.body


def test_edited_template_is_picked_up_and_errors_name_the_file(tmp_path: Path):
    (tmp_path / "email").mkdir()
    tpl = tmp_path / "email" / "t.txt"
    tpl.write_text("Subject: [{{ n }}] satu\n\nisi\n")
    texts = MailTexts(tmp_path)
    assert texts.render("t", n="1").subject == "[1] satu"
    import os
    import time

    tpl.write_text("Subject: [{{ n }}] dua\n\nisi\n")
    later = time.time() + 5
    os.utime(tpl, (later, later))
    assert texts.render("t", n="1").subject == "[1] dua"
    tpl.write_text("Subject: {{ missing }}\n\nx\n")
    os.utime(tpl, (later + 5, later + 5))
    with pytest.raises(ConfigError, match="t.txt"):
        texts.render("t")
    with pytest.raises(ConfigError, match="missing"):
        texts.render("nope")


def test_indonesian_dates():
    when = datetime(2026, 12, 23, 9, 0, tzinfo=UTC)
    assert format_datetime_id(when, ZoneInfo("Asia/Jakarta")) == "23 Desember 2026 16:00 WIB"
