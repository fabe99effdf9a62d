"""Floods (issue #12, item 6): near-identical repeats become follow-ups, bursts past the daily
limit are held in triage with one notice. The pure rules first, then the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from appfixture import LocalApp

from mailproc.domain import floods
from mailproc.domain.intake import MailFacts, Verdict, decide

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TEXT = ("Selamat siang, botol PET 600 ml yang kami terima tanggal 1 Maret retak di bagian "
        "leher, sekitar 120 pcs dari batch LOT-2603-01. Mohon penggantian.")


def test_near_identical_is_the_same_complaint_and_another_one_is_not():
    first = floods.fingerprint("Botol retak", TEXT)
    again = floods.fingerprint("RE: Fwd: Botol retak",
                               "Halo,\n" + TEXT.replace("Selamat siang, ", "") + "\n> kutipan")
    other = floods.fingerprint("Kemasan penyok", "Karton kemasan penyok saat diterima di "
                               "gudang kami, 30 karton dari surat jalan SJ-0301. Mohon dicek.")
    assert floods.similarity(first, again) >= floods.NEAR_IDENTICAL
    assert floods.similarity(first, other) < 0.2
    # The same words about another batch are another complaint.
    assert floods.similarity(first, floods.fingerprint(
        "Botol retak", TEXT.replace("LOT-2603-01", "LOT-2603-02"))) == 0
    earlier = [floods.Earlier("001", T, first), floods.Earlier("002", T + timedelta(hours=1),
                                                                 other)]
    window = timedelta(hours=72)
    assert floods.repeat_of(again, T + timedelta(hours=5), earlier, window) == "001"
    assert floods.repeat_of(again, T + timedelta(hours=80), earlier, window) is None
    assert floods.repeat_of(again, T + timedelta(hours=5), earlier, timedelta(0)) is None


def test_the_burst_limit_holds_and_tells_once():
    assert [floods.held(n, 3) for n in (2, 3, 4)] == [False, True, True]
    assert [floods.tell_marketing(n, 3) for n in (2, 3, 4)] == [False, True, False]
    assert not floods.held(100, 0)
    base = dict(sender="a@example.com", sender_internal=False, own_mail=False, auto_reply="",
                thread_number=None, subject_number=None, forwarded_sender=None,
                has_content=True)
    assert decide(MailFacts(**base, repeat_of="001")).complaint_number == "001"
    held = decide(MailFacts(**base, registered_before=3, burst_limit=3))
    assert (held.verdict, held.held, held.notify) == (Verdict.NEW_COMPLAINT, True, True)
    assert not decide(MailFacts(**base, registered_before=2, burst_limit=3)).held


def mail(sender: str, subject: str, body: str, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "keluhan@contoh.co.id"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<flood{n}@example.com>"
    msg.set_content(body)
    return bytes(msg)


GOODS = ["botol PET 600 ml", "tutup botol 28 mm", "karton box A4", "label stiker",
         "preform 25 gram", "galon 19 liter"]


def test_repeats_follow_up_and_a_burst_is_held_with_one_notice(tmp_path: Path):
    local = LocalApp(tmp_path, extra="")
    text = local.config.read_text()
    assert "new_complaints_per_sender_per_day = 10" in text
    local.config.write_text(text.replace("new_complaints_per_sender_per_day = 10",
                                         "new_complaints_per_sender_per_day = 3"))
    sender = "Budi <budi@pelanggan.example>"
    local.deliver(mail(sender, "Botol retak", TEXT, 0))
    local.deliver(mail(sender, "Botol retak", "Halo,\n" + TEXT, 1))  # sent twice
    first = local.poll()
    assert first["outcomes"] == {"complaint": 1, "follow_up": 1}
    [number] = first["registered"]
    for n, goods in enumerate(GOODS[1:], start=2):  # five different complaints
        local.deliver(mail(sender, f"Keluhan {goods}", f"{goods.capitalize()} yang kami "
                           f"terima rusak, nomor pesanan PO-{n}00. Mohon ditindaklanjuti.", n))
    second = local.poll()
    assert second["outcomes"] == {"complaint": 5}
    shown = [local.json("complaints", "show", no) for no in second["registered"]]
    # Three a day: the first complaint and two more go to their departments, three are held.
    statuses = [(s["status"], s["department"]) for s in shown]
    assert [st for st, _ in statuses[:2]] != ["triage", "triage"]
    assert [(st, dep) for st, dep in statuses[2:]] == [("triage", None)] * 3
    assert all(not [d for d in s["documents"]] for s in shown[2:])  # no form for held ones
    held_events = [e for s in shown for e in s["events"] if e["kind"] == "complaint_held"]
    assert [e["data"]["notified"] for e in held_events] == [True, False, False]
    sent = local.sent()
    flood = [m for m in sent if "ditahan di triase" in m["Subject"]]
    assert len(flood) == 1 and "budi@pelanggan.example" in flood[0]["Subject"]
    assert not [m for m in sent if m["Subject"].startswith(f"[{shown[3]['number']}] Keluhan baru")]
    kinds = [m["kind"] for m in local.json("complaints", "show", number)["messages"]]
    assert kinds.count("follow_up") == 1 and kinds.count("complaint") == 1
