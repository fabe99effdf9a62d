"""The PTPP category (issue #13, item 1): Mayor / Minor / Observasi, from the routing
category's default at registration, changed by marketing administration (`ptpp classify`,
`KATEGORI:` in a reply), and shown in the register, the recap, the mail and the forms."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from appfixture import REPO, LocalApp
from test_prerender import docx_texts, open_app, sent_docx

from mailproc.domain import decisions, figures, states
from mailproc.domain.lifecycle import Case, EventKind, LifecycleError
from mailproc.domain.routing import rules_from_mapping
from mailproc.store import reportdata

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CHECKED, UNCHECKED = "\u2612", "\u2610"


def test_the_case_starts_with_its_category_and_a_person_changes_it():
    case, events = Case.register("001", "qc", AT, {}, severity="mayor")
    assert case.severity == "mayor" and events[0].data["severity"] == "mayor"
    assert Case.register("002", None, AT, {})[0].severity == "minor"  # the default
    [event] = case.classify("observasi", AT)
    assert (event.kind, event.data) == (EventKind.SEVERITY_SET,
                                        {"severity": "observasi", "previous": "mayor"})
    assert case.classify("observasi", AT) == []  # the same again: nothing happened
    with pytest.raises(ValueError):
        case.classify("besar", AT)
    case.reject("spam", AT)
    with pytest.raises(LifecycleError) as refused:
        case.classify("mayor", AT)
    assert "tidak dapat diubah" in refused.value.id_message


def _rules(**category: object) -> dict[str, object]:
    return {"categories": [{"name": "kualitas", "label": "Kualitas", "department": "qc",
                            "keywords": ["rusak"], **category}]}


def test_each_routing_category_gives_a_default_and_a_wrong_one_is_named():
    assert rules_from_mapping(_rules()).categories[0].severity == "minor"
    assert rules_from_mapping(_rules(severity="Mayor")).categories[0].severity == "mayor"
    with pytest.raises(ValueError, match=r"categories\[0\]\.severity: expected \"mayor\""):
        rules_from_mapping(_rules(severity="kritis"))
    example = (REPO / "config" / "mailproc.example.toml").read_text(encoding="utf-8")
    assert 'severity = "mayor"' in example  # quality complaints start as Mayor


def test_kategori_in_a_reply():
    parsed = decisions.parse("KATEGORI: Mayor\nKategori: obs\n")
    assert [(d.kind, d.value) for d in parsed.decisions] == [
        (decisions.Kind.SEVERITY, "mayor"), (decisions.Kind.SEVERITY, "observasi")]
    wrong = decisions.parse("KATEGORI: besar sekali")
    assert wrong.decisions == () and "MAYOR, MINOR atau OBSERVASI" in wrong.problems[0]
    assert "KATEGORI:" in decisions.ACCEPTED_HELP


def _severity_marks(texts: list[str]) -> str:
    [line] = [t for t in texts if "Mayor" in t and "Observasi" in t]
    return line


def test_from_registration_to_the_recap(tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver((REPO / "examples" / "inbox" / "01-botol-retak.eml").read_bytes())
    app.deliver((REPO / "examples" / "inbox" / "02-terlambat.eml").read_bytes())
    [quality, late] = app.poll()["registered"]
    assert app.json("complaints", "show", quality)["severity"] == "mayor"
    assert app.json("complaints", "show", late)["severity"] == "minor"
    # The form and the mail to the department say it.
    forms = sent_docx(app)
    [form] = [content for name, content in forms.items() if name.startswith("PTPP-001")]
    assert f"{CHECKED} Mayor" in _severity_marks(docx_texts(form))
    assert f"{UNCHECKED} Minor" in _severity_marks(docx_texts(form))
    bodies = [_body(m) for m in app.sent()]
    assert any("Kategori PTPP  : Mayor" in b for b in bodies)  # to the department
    assert any("Kategori PTPP   : Mayor" in b and "KATEGORI: MAYOR" in b
               for b in bodies)  # the notice to marketing administration

    # Marketing administration changes it: the register and the recap follow.
    result = app.run("ptpp", "classify", late, "OBSERVASI", "--by", "rina")
    assert result.exit_code == 0 and "PTPP category Observasi" in result.output
    shown = app.json("complaints", "show", late)
    assert shown["severity"] == "observasi"
    [event] = [e for e in shown["events"] if e["kind"] == "severity_set"]
    assert event["actor"] == "rina"
    assert "Kategori PTPP     : Observasi" in app.run("complaints", "show", late).output
    unknown = app.run("ptpp", "classify", late, "kritis")
    assert unknown.exit_code == 2 and "mayor" in unknown.output
    listed = {c["number"]: c["severity"] for c in app.json("complaints", "list")}
    assert listed == {quality: "mayor", late: "observasi"}

    opened = open_app(app)
    records = reportdata.load_records(opened.settings)
    rows = {row.values[1]: row.values[8] for row in figures.register_rows(records,
                                                                          opened.calendar)}
    assert rows[quality] == "Kualitas / cacat produk (Mayor)"
    assert rows[late] == "Keterlambatan pengiriman (Observasi)"
    received = records[0].received_at.astimezone(opened.settings.timezone)
    fig = figures.recap(records, year=received.year, month=received.month, now=AT,
                        cal=opened.calendar)
    assert fig.by_severity == (1, 0, 1)


def test_classify_is_refused_once_closed_and_the_database_keeps_minor_for_old_rows(
        tmp_path: Path):
    app = LocalApp(tmp_path)
    app.deliver((REPO / "examples" / "inbox" / "02-terlambat.eml").read_bytes())
    [number] = app.poll()["registered"]
    assert app.run("complaints", "reject", number, "--reason", "salah kirim email").exit_code == 0
    refused = app.run("ptpp", "classify", number, "mayor")
    assert refused.exit_code != 0 and "cannot change" in refused.output
    db = sqlite3.connect(tmp_path / "var" / "mailproc.db")
    try:
        kinds = [k for (k,) in db.execute("select kind from event")]
    finally:
        db.close()
    assert "severity_set" not in kinds


def _body(msg) -> str:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/plain"]
    return "".join(p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8")
                   for p in parts)


def test_states_know_the_words():
    assert states.severity_of(" Major. ") == states.Severity.MAYOR
    assert states.severity_of("observation") == states.Severity.OBSERVASI
    assert states.severity_of("berat") is None
    assert json.dumps(states.SEVERITIES) == '["mayor", "minor", "observasi"]'
