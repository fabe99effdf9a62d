"""Every saved .eml fixture through the whole intake pipeline (Maildir in, Maildir out):
what it became, and what was sent because of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from appfixture import LocalApp

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eml"

# fixture → (outcome of the poll, acknowledgements sent)
EXPECTED = {
    "outlook_html_only": ("complaint", 1),
    "gmail_alternative_inline_image": ("complaint", 1),
    "qp_windows1252": ("complaint", 1),
    "iso8859_1": ("complaint", 1),
    "rfc2231_filename": ("complaint", 1),
    "no_message_id": ("complaint", 1),
    "duplicate_message_id_a": ("complaint", 1),
    "reply_changed_subject": ("complaint", 1),  # its thread is unknown to this database
    "out_of_office": ("auto_reply", 0),
    "dsn_bounce": ("auto_reply", 0),
    "mailing_list": ("auto_reply", 0),
    "staff_forward": ("forwarded_complaint", 1),
    "staff_forward_inline": ("forwarded_complaint", 1),
    "staff_forward_outlook": ("forwarded_complaint", 1),
    "oversize_attachment": ("complaint", 1),
    "path_traversal_filename": ("complaint", 1),
    "html_entities_tables": ("complaint", 1),
}


def test_every_fixture_has_an_expected_intake_outcome():
    names = {p.name.removesuffix(".eml") for p in FIXTURES.glob("*.eml")}
    assert names - {"duplicate_message_id_b"} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_intake(tmp_path: Path, name: str):
    app = LocalApp(tmp_path, extra="")
    app.deliver((FIXTURES / f"{name}.eml").read_bytes())
    summary = app.poll()
    outcome, acks = EXPECTED[name]
    assert summary["outcomes"] == {outcome: 1}
    sent = app.sent()
    assert sum(m["Subject"].endswith("Keluhan Anda telah kami terima") for m in sent) == acks
    for m in sent:
        assert m["Auto-Submitted"] == "auto-replied"
    if outcome.endswith("complaint"):
        [c] = app.json("complaints", "list")
        assert c["number"] == app.clock.number(1)
        assert c["customer"] and not c["customer"].endswith("@contoh.co.id")


def test_duplicate_message_id_with_other_content_is_kept_but_not_acted_on(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver((FIXTURES / "duplicate_message_id_a.eml").read_bytes())
    assert app.poll()["outcomes"] == {"complaint": 1}
    app.deliver((FIXTURES / "duplicate_message_id_b.eml").read_bytes())
    summary = app.poll()
    assert summary["outcomes"] == {"duplicate": 1}
    assert summary["sent"] == 0
    [c] = app.json("complaints", "list")
    shown = app.json("complaints", "show", c["number"])
    kinds = [m["kind"] for m in shown["messages"] if m["direction"] == "in"]
    assert kinds == ["complaint", "duplicate"]


def test_oversize_attachment_is_recorded_not_stored(tmp_path: Path):
    app = LocalApp(tmp_path, extra="")
    (tmp_path / "config" / "mailproc.toml").write_text(
        (tmp_path / "config" / "mailproc.toml").read_text().replace(
            "max_attachment_bytes = 10485760", "max_attachment_bytes = 1024"))
    app.deliver((FIXTURES / "oversize_attachment.eml").read_bytes())
    app.poll()
    [c] = app.json("complaints", "list")
    shown = app.json("complaints", "show", c["number"])
    statuses = {a["filename"]: a["status"] for a in shown["attachments"]}
    assert "too_large" in statuses.values()
    assert all(a["archive"] is None for a in shown["attachments"] if a["status"] == "too_large")


def test_follow_up_by_reply_to_the_acknowledgement(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver((FIXTURES / "iso8859_1.eml").read_bytes())
    app.poll()
    [ack] = [m for m in app.sent() if "Keluhan Anda" in m["Subject"]]
    reply = (f"From: {ack['To']}\r\nTo: keluhan@contoh.co.id\r\nSubject: foto tambahan\r\n"
             f"Message-ID: <reply-1@example.com>\r\nIn-Reply-To: {ack['Message-ID']}\r\n"
             "\r\nBerikut foto tambahan.\r\n").encode()
    app.deliver(reply)
    assert app.poll()["outcomes"] == {"follow_up": 1}
