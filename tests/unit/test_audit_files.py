"""Records that cannot change (issue #12): every archived file is named with its sha256 in the
event chain and checked by `audit verify`; the chain head printed in the recap and the status
digest anchors it outside the database, so a chain rebuilt with fresh hashes is caught."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from appfixture import LocalApp

from mailproc.store import event_hash


def complaint_mail(n: int, photo: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Pelanggan {n} <pelanggan{n}@example.com>"
    msg["To"] = "keluhan@contoh.co.id"
    msg["Subject"] = f"Barang rusak {n}"
    msg["Message-ID"] = f"<audit{n}@example.com>"
    msg.set_content("Kemasan penyok, botol retak saat diterima.")
    if photo is not None:
        msg.add_attachment(photo, maintype="image", subtype="png", filename="foto.png")
    return bytes(msg)


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def verify(local: LocalApp, *args: str) -> tuple[int, dict]:
    result = local.run("audit", "verify", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def test_every_archived_file_is_in_the_chain_and_checked(tmp_path: Path):
    local = LocalApp(tmp_path)
    local.deliver(complaint_mail(1, PNG))
    local.deliver(complaint_mail(2))
    numbers = local.poll()["registered"]
    code, report = verify(local)
    assert code == 0 and report["ok"] and report["file_problems"] == []
    archive = tmp_path / "archive"
    on_disk = {p.relative_to(archive).as_posix() for p in archive.rglob("*")
               if p.is_file() and ".staging" not in p.parts}
    db = sqlite3.connect(tmp_path / "var" / "mailproc.db")
    recorded = {f["path"] for (data,) in db.execute(
        "select data from event where kind = 'files_archived'")
        for f in json.loads(data)["files"]}
    db.close()
    # Two raw mails, one photo, two PTPP forms: every file there is in the chain.
    assert on_disk == recorded and report["files"] == len(recorded) == 5
    shown = local.json("complaints", "show", numbers[0])
    form = archive / [d for d in shown["documents"] if d["form"] == "ptpp"][0]["archive"]
    raw = archive / shown["messages"][0]["archive"]

    original = form.read_bytes()
    form.write_bytes(original + b"x")
    raw_bytes = raw.read_bytes()
    raw.unlink()
    code, report = verify(local)
    assert code == 1 and not report["ok"] and report["problem"] is None  # the chain is fine
    problems = {(p["path"], p["problem"]) for p in report["file_problems"]}
    assert problems == {(form.relative_to(archive).as_posix(), "changed"),
                        (raw.relative_to(archive).as_posix(), "missing")}
    text = local.run("audit", "verify").output
    assert "archived file CHANGED" in text and "archived file MISSING" in text
    form.write_bytes(original)
    raw.write_bytes(raw_bytes)
    assert verify(local)[0] == 0


def test_the_head_printed_in_the_recap_proves_the_chain_before_it(tmp_path: Path):
    local = LocalApp(tmp_path)
    local.deliver(complaint_mail(1))
    local.poll()
    head = verify(local)[1]["head"]
    assert local.json("report", "status")["chain_head"] == head
    month = local.clock.local().strftime("%Y-%m")
    result = local.run("report", "recap", "--month", month, "--email")
    assert result.exit_code == 0, result.output
    [recap] = [m for m in local.sent() if m["Subject"].startswith("Rekapitulasi")]
    body = recap.get_payload(0).get_payload(decode=True).decode() if recap.is_multipart() \
        else recap.get_payload(decode=True).decode()
    assert f"Kode jejak audit: {head}" in body

    local.deliver(complaint_mail(2))  # the chain grows past the anchor
    local.poll()
    code, report = verify(local, "--anchor", head)
    assert code == 0 and report["anchor"]["event_id"] is not None

    # Someone with write access rewrites an early event and rebuilds every hash after it:
    # the chain alone looks intact, the anchor does not.
    db = sqlite3.connect(tmp_path / "var" / "mailproc.db")
    rows = db.execute("select e.id, e.at, e.actor, e.source, e.kind, coalesce(c.number, ''), "
                      "e.data from event e left join complaint c on c.id = e.complaint_id "
                      "order by e.id").fetchall()
    prev = "0" * 64
    for n, (eid, at, actor, source, kind, number, data) in enumerate(rows):
        if n == 1:
            data = data.replace("Barang rusak", "Barang baik")
        digest = event_hash(prev, datetime.fromisoformat(at), actor, source, kind, number, data)
        db.execute("update event set data = ?, prev_hash = ?, hash = ? where id = ?",
                   (data, prev, digest, eid))
        prev = digest
    db.execute("update chain_head set hash = ?", (prev,))
    db.commit()
    db.close()
    assert verify(local)[0] == 0  # rebuilt: indistinguishable without the anchor
    code, report = verify(local, "--anchor", head)
    assert code == 1 and "anchor" in report["problem"]
