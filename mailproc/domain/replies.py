"""What to do with the attachments of a reply in a complaint's thread: a filled PTPP form from
the department, a filled return-claim form from the customer, or something that needs a clear
answer. Pure: the caller inspects the files and passes a summary in."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from mailproc.domain import states


class Role(StrEnum):
    DEPARTMENT = "department"  # an address of the department the PTPP is assigned to
    ADMIN = "admin"  # marketing administration
    CUSTOMER = "customer"  # the complainant
    STAFF = "staff"  # any other company address
    OTHER = "other"


class FileKind(StrEnum):
    PTPP_FORM = "ptpp_form"
    RETURN_FORM = "retur_form"
    DOCX_NO_FORM = "docx_no_form"  # a Word file that is not one of our forms
    REJECTED = "rejected"  # .doc, .docm, corrupt, zip bomb, entities …: cannot be read
    SCAN = "scan"  # PDF or photo: perhaps a printed form, for manual entry
    OTHER = "other"  # anything else (spreadsheets, text …): just an attachment


@dataclass(frozen=True)
class FileSummary:
    filename: str
    kind: FileKind
    number: str = ""  # the PTPP number printed inside a form
    reason: str = ""  # why a REJECTED file cannot be read (Indonesian, for the sender)


class Action(StrEnum):
    FOLLOW_UP = "follow_up"  # an ordinary message on the complaint
    QUARANTINE = "quarantine"  # a form from someone who may not move the PTPP
    PROCESS_PTPP = "process_ptpp"
    PROCESS_RETURN = "process_return"
    REPLY_PROBLEM = "reply_problem"  # answer the sender with `message`; the PTPP does not move
    MANUAL_ENTRY = "manual_entry"  # a scan: marketing administration enters it by hand


@dataclass(frozen=True)
class ReplyDecision:
    action: Action
    message: str = ""  # Indonesian, for the sender (REPLY_PROBLEM, MANUAL_ENTRY) or the log
    file_index: int | None = None


# The PTPP waits for the department's form in these states.
AWAITING_FORM = frozenset({states.ISSUED, states.PLANNED})


def decide_reply(*, role: Role, status: str, number: str,
                 files: Sequence[FileSummary]) -> ReplyDecision:
    """Decide from who wrote, where the PTPP stands, and what is attached."""
    ptpp = [i for i, f in enumerate(files) if f.kind == FileKind.PTPP_FORM]
    if ptpp and role not in (Role.DEPARTMENT, Role.ADMIN):
        return ReplyDecision(
            Action.QUARANTINE,
            "formulir PTPP dikirim oleh alamat yang bukan bagian yang ditugaskan maupun "
            "Administrasi Marketing")
    if role == Role.CUSTOMER:
        retur = [i for i, f in enumerate(files) if f.kind == FileKind.RETURN_FORM]
        if len(retur) == 1:
            return ReplyDecision(Action.PROCESS_RETURN, file_index=retur[0])
        if len(retur) > 1:
            return ReplyDecision(
                Action.REPLY_PROBLEM,
                "Email Anda berisi lebih dari satu formulir klaim retur. Mohon kirim satu "
                "formulir saja untuk keluhan ini.")
        return ReplyDecision(Action.FOLLOW_UP)
    if role not in (Role.DEPARTMENT, Role.ADMIN):
        return ReplyDecision(Action.FOLLOW_UP)
    if len(ptpp) > 1:
        names = ", ".join(files[i].filename for i in ptpp)
        return ReplyDecision(
            Action.REPLY_PROBLEM,
            f"Email ini berisi lebih dari satu formulir PTPP ({names}). Mohon kirim satu "
            "formulir per email agar tidak ada isian yang tertukar.")
    if len(ptpp) == 1:
        form = files[ptpp[0]]
        if form.number and form.number != number:
            return ReplyDecision(
                Action.REPLY_PROBLEM,
                f"Formulir terlampir ({form.filename}) adalah PTPP nomor {form.number}, "
                f"bukan {number}. Mohon kirim formulir PTPP {number} sebagai balasan email "
                f"ini, dan formulir {form.number} sebagai balasan email PTPP tersebut.")
        # Marketing administration answers with section C filled once actions are done.
        if role == Role.ADMIN and status == states.IMPLEMENTED:
            return ReplyDecision(Action.PROCESS_PTPP, file_index=ptpp[0])
        if status not in AWAITING_FORM:
            return ReplyDecision(
                Action.REPLY_PROBLEM,
                f"PTPP {number} saat ini berstatus \"{states.LABELS_ID[status]}\", sehingga "
                "formulir dari bagian tidak dapat diproses sekarang. Bila ada yang perlu "
                "diubah, mohon hubungi Administrasi Marketing.")
        return ReplyDecision(Action.PROCESS_PTPP, file_index=ptpp[0])
    rejected = [f for f in files if f.kind == FileKind.REJECTED]
    if rejected:
        return ReplyDecision(Action.REPLY_PROBLEM, " ".join(
            f"{f.filename}: {f.reason}" for f in rejected))
    if any(f.kind == FileKind.SCAN for f in files) and role == Role.DEPARTMENT:
        return ReplyDecision(
            Action.MANUAL_ENTRY,
            "Lampiran berupa PDF atau foto tidak dapat dibaca otomatis. Lampiran sudah kami "
            "teruskan ke Administrasi Marketing untuk dicatat secara manual; agar lebih cepat, "
            "mohon kirim formulir PTPP dalam format Word (.docx) yang terlampir pada email "
            "PTPP.")
    docx = [f for f in files if f.kind == FileKind.DOCX_NO_FORM]
    if docx and role == Role.DEPARTMENT:
        return ReplyDecision(
            Action.REPLY_PROBLEM,
            f"Berkas {docx[0].filename} bukan formulir PTPP dari sistem (kolom isian formulir "
            "tidak ditemukan). Mohon isi formulir PTPP yang terlampir pada email PTPP, tanpa "
            "menyalinnya ke dokumen baru.")
    if role == Role.DEPARTMENT and status in AWAITING_FORM and not files:
        return ReplyDecision(
            Action.REPLY_PROBLEM,
            "Kami tidak menemukan formulir PTPP pada email ini. Bila Anda bermaksud mengirim "
            "analisis atau laporan penyelesaian, mohon lampirkan formulir PTPP (.docx) yang "
            "sudah diisi dan balas kembali email ini.")
    return ReplyDecision(Action.FOLLOW_UP)


# A customer asking, in their own words, for the analysis and action plan (procedure step 7):
# a sentence naming the thing and a request for it. "Tidak perlu" (no need) cancels it.
_ANALYSIS_THING = re.compile(
    r"\b(analisa\w*|analisis\w*|investigasi\w*|akar (masalah|penyebab)\w*|root cause|"
    r"8d|capa|laporan (perbaikan|tindakan)\w*|rencana (perbaikan|tindakan)\w*)\b")
_ANALYSIS_ASK = re.compile(
    r"\b(mohon|minta|meminta|tolong|harap|kirim\w*|dikirim\w*|lampir\w*|bagikan|share|"
    r"send|please|request|bisa|boleh|kami tunggu|ditunggu)\b")
_ANALYSIS_NO = re.compile(r"\b(tidak|tak|gak|nggak|ga) (perlu|usah)\b")
_SENTENCES = re.compile(r"[.!?\n]+")


def asks_for_analysis(text: str) -> bool:
    """Whether a customer's own text (quotes already removed) asks to be sent the analysis
    and plan: "mohon dikirimkan hasil analisanya", "kami minta laporan 8D"."""
    for sentence in _SENTENCES.split(text.lower()):
        if (_ANALYSIS_THING.search(sentence) and _ANALYSIS_ASK.search(sentence)
                and not _ANALYSIS_NO.search(sentence)):
            return True
    return False
