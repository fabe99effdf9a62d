"""The decision on a reply's attachments (pure)."""

import pytest

from mailproc.domain import states
from mailproc.domain.replies import Action, FileKind, FileSummary, Role, decide_reply

N = "001/PTPP/MKT/XI/2026"


def form(number: str = N, name: str = "PTPP.docx") -> FileSummary:
    return FileSummary(name, FileKind.PTPP_FORM, number=number)


def decide(role=Role.DEPARTMENT, status=states.ISSUED, files=()):
    return decide_reply(role=role, status=status, number=N, files=list(files))


def test_the_departments_form_is_processed():
    d = decide(files=[FileSummary("foto.jpg", FileKind.OTHER), form()])
    assert (d.action, d.file_index) == (Action.PROCESS_PTPP, 1)
    assert decide(role=Role.ADMIN, status=states.PLANNED, files=[form()]).action == \
        Action.PROCESS_PTPP


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.STAFF, Role.OTHER])
def test_a_form_from_anyone_else_is_quarantined(role):
    d = decide(role=role, files=[form()])
    assert d.action == Action.QUARANTINE and "bukan bagian" in d.message


def test_two_forms_another_ptpp_and_wrong_status_are_refused_with_a_reason():
    assert "lebih dari satu" in decide(files=[form(), form(name="b.docx")]).message
    other = decide(files=[form("002/PTPP/MKT/XI/2026")])
    assert other.action == Action.REPLY_PROBLEM and "002/PTPP/MKT/XI/2026" in other.message
    closed = decide(status=states.CLOSED, files=[form()])
    assert closed.action == Action.REPLY_PROBLEM and "Ditutup" in closed.message


def test_unreadable_files_scans_and_missing_forms():
    bad = decide(files=[FileSummary("lama.doc", FileKind.REJECTED, reason="format .doc")])
    assert bad.action == Action.REPLY_PROBLEM and "lama.doc: format .doc" in bad.message
    scan = decide(files=[FileSummary("scan.pdf", FileKind.SCAN)])
    assert scan.action == Action.MANUAL_ENTRY
    nothing = decide(files=[])
    assert nothing.action == Action.REPLY_PROBLEM and "tidak menemukan" in nothing.message
    plain = decide(files=[FileSummary("surat.docx", FileKind.DOCX_NO_FORM)])
    assert plain.action == Action.REPLY_PROBLEM and "bukan formulir" in plain.message
    # Marketing administration writing in the thread without a form: an ordinary message.
    assert decide(role=Role.ADMIN, files=[]).action == Action.FOLLOW_UP
    # Before the PTPP was issued, a department's plain mail is just a message.
    assert decide(status=states.TRIAGE, files=[]).action == Action.FOLLOW_UP


def test_customer_return_form_and_photos():
    retur = FileSummary("klaim.docx", FileKind.RETURN_FORM)
    assert decide(role=Role.CUSTOMER, files=[retur]).action == Action.PROCESS_RETURN
    photo = FileSummary("foto.jpg", FileKind.SCAN)
    assert decide(role=Role.CUSTOMER, files=[photo]).action == Action.FOLLOW_UP
    assert decide(role=Role.CUSTOMER, files=[retur, retur]).action == Action.REPLY_PROBLEM
