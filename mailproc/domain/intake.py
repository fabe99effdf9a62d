"""What to do with one incoming mail, decided from facts the caller gathered.

The caller (services) looks things up — threading in the database, the sender's domain — and
passes the answers in; this module only decides, so every rule is testable without a mailbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from mailproc.domain import floods


class Verdict(StrEnum):
    NEW_COMPLAINT = "complaint"
    FORWARDED_COMPLAINT = "forwarded_complaint"
    FOLLOW_UP = "follow_up"
    AUTO_REPLY = "auto_reply"  # auto-replies, bounces, list mail: recorded, never answered
    OWN_MAIL = "own"  # mailproc's own mail looping back
    QUARANTINE = "quarantined"


@dataclass(frozen=True)
class MailFacts:
    sender: str  # the From address, lower case, '' if unreadable
    sender_internal: bool  # in one of the company's domains
    own_mail: bool  # carries mailproc's X-Mailproc-Id or comes from its own address
    auto_reply: str  # reason from intake.parse, '' for a human mail
    thread_number: str | None  # complaint found through In-Reply-To / References
    subject_number: str | None  # a known complaint number found in the subject
    forwarded_sender: str | None  # the original customer of a staff forward
    has_content: bool  # any subject, text or attachment
    form_number: str | None = None  # a known complaint number printed inside an attached form
    repeat_of: str | None = None  # an earlier complaint of the sender with nearly this text
    registered_before: int = 0  # complaints registered from the sender in the last 24 hours
    burst_limit: int = 0  # limits.new_complaints_per_sender_per_day (0: none)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""
    complaint_number: str | None = None
    held: bool = False  # a new complaint past the sender's daily limit: kept in triage
    notify: bool = False  # the first held one of the burst: marketing administration is told


def decide(f: MailFacts) -> Decision:
    """Order matters: loops are cut first, then threading wins over everything else."""
    if f.own_mail:
        return Decision(Verdict.OWN_MAIL, "surat keluar mailproc sendiri")
    if f.auto_reply:
        return Decision(Verdict.AUTO_REPLY, f.auto_reply, f.thread_number or f.subject_number)
    if not f.sender:
        return Decision(Verdict.QUARANTINE, "alamat pengirim tidak terbaca")
    number = f.thread_number or f.subject_number or f.form_number
    if number:
        how = ("In-Reply-To/References" if f.thread_number else
               "nomor PTPP di subjek" if f.subject_number else "nomor PTPP di formulir")
        return Decision(Verdict.FOLLOW_UP, f"cocok lewat {how}", number)
    if not f.has_content:
        return Decision(Verdict.QUARANTINE, "surat kosong: tanpa subjek, isi, maupun lampiran")
    if f.sender_internal:
        if f.forwarded_sender:
            return Decision(Verdict.FORWARDED_COMPLAINT, f"diteruskan oleh {f.sender}")
        return Decision(
            Verdict.QUARANTINE,
            "surat dari alamat internal tanpa surat pelanggan yang diteruskan; "
            "catat keluhan lewat `mailproc complaints add` bila ini keluhan",
        )
    if f.repeat_of:
        return Decision(Verdict.FOLLOW_UP, f"isinya hampir sama dengan keluhan {f.repeat_of} "
                                           "dari pengirim yang sama", f.repeat_of)
    if floods.held(f.registered_before, f.burst_limit):
        return Decision(Verdict.NEW_COMPLAINT,
                        f"ditahan di triase: {f.registered_before} keluhan baru dari pengirim "
                        f"ini dalam 24 jam (batas {f.burst_limit})", held=True,
                        notify=floods.tell_marketing(f.registered_before, f.burst_limit))
    return Decision(Verdict.NEW_COMPLAINT)


def may_auto_reply(sent_recently: int, limit: int) -> bool:
    """Per-sender cap on automatic replies: the last guard against mail loops that slip past
    the auto-reply headers."""
    return sent_recently < limit


AUTO_REPLY_WINDOW = timedelta(days=1)


def auto_reply_window_start(now: datetime) -> datetime:
    return now - AUTO_REPLY_WINDOW
