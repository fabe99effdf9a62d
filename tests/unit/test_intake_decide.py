from dataclasses import replace

import pytest

from mailproc.domain import states
from mailproc.domain.intake import MailFacts, Verdict, decide, may_auto_reply

BASE = MailFacts(sender="budi@example.com", sender_internal=False, own_mail=False,
                 auto_reply="", thread_number=None, subject_number=None,
                 forwarded_sender=None, has_content=True)


def test_customer_mail_is_a_new_complaint():
    assert decide(BASE).verdict == Verdict.NEW_COMPLAINT


def test_own_mail_beats_everything():
    d = decide(replace(BASE, own_mail=True, thread_number="001/PTPP/MKT/XI/2026"))
    assert d.verdict == Verdict.OWN_MAIL


def test_auto_reply_is_recorded_with_its_thread_but_never_a_follow_up():
    d = decide(replace(BASE, auto_reply="Auto-Submitted: auto-replied",
                       thread_number="001/PTPP/MKT/XI/2026"))
    assert d.verdict == Verdict.AUTO_REPLY
    assert d.complaint_number == "001/PTPP/MKT/XI/2026"
    assert "Auto-Submitted" in d.reason


def test_threading_wins_over_subject_number():
    d = decide(replace(BASE, thread_number="001/PTPP/MKT/XI/2026",
                       subject_number="002/PTPP/MKT/XI/2026"))
    assert (d.verdict, d.complaint_number) == (Verdict.FOLLOW_UP, "001/PTPP/MKT/XI/2026")
    d = decide(replace(BASE, subject_number="002/PTPP/MKT/XI/2026"))
    assert (d.verdict, d.complaint_number) == (Verdict.FOLLOW_UP, "002/PTPP/MKT/XI/2026")
    assert "subjek" in d.reason


def test_staff_forward_and_staff_mail_without_customer():
    d = decide(replace(BASE, sender="sales@contoh.co.id", sender_internal=True,
                       forwarded_sender="hendra@example.com"))
    assert d.verdict == Verdict.FORWARDED_COMPLAINT
    d = decide(replace(BASE, sender="sales@contoh.co.id", sender_internal=True))
    assert d.verdict == Verdict.QUARANTINE
    assert "internal" in d.reason


@pytest.mark.parametrize("facts", [replace(BASE, sender=""), replace(BASE, has_content=False)])
def test_unreadable_or_empty_mail_is_quarantined(facts):
    assert decide(facts).verdict == Verdict.QUARANTINE


def test_auto_reply_limit():
    assert may_auto_reply(4, 5)
    assert not may_auto_reply(5, 5)


def test_state_table():
    states.check_transition(None, states.TRIAGE)
    states.check_transition(states.TRIAGE, states.ASSIGNED)
    with pytest.raises(states.InvalidTransition, match="allowed from here"):
        states.check_transition(states.CLOSED, states.ISSUED)
    assert states.initial_status("qc") == states.ASSIGNED
    assert states.initial_status(None) == states.TRIAGE
