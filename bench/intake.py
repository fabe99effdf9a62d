"""Intake benchmark: mailproc's poll against the bare cost of the same work, and against a peer.

    python bench/intake.py [--n 1000] [--cases floor,work-floor,forms-off,default,peer]
                           [--smtp sink|relay|maildir] [--keep-inbox 20000] [--json]
                           [--no-forms] [--tls] [--breakdown] [--profile PATH]

One run starts a private Dovecot on 127.0.0.1 (tests/servers.py) and an SMTP server in a
process of its own, loads the same N generated Indonesian complaint mails into the INBOX of one
Dovecot user per case, and times, each in a fresh process (--cases picks them; all by default):

  floor       imap-tools alone: login, fetch(mark_seen=False, bulk=100) of all N mails, each
              message's raw bytes written to a .eml file. Run 3 times; the fastest counts.
  forms-off   `mailproc poll --json` with documents.issue_on_registration and
              return_form_on_registration off: fetch, parse, classify, register N complaints
              in SQLite, archive, queue and send an acknowledgement to the sender and a notice
              to the marketing admin per complaint over SMTP, move each mail to Processed.
  default     the same in the example configuration: also the PTPP form (.docx with the
              complaint's photos) to the department for each complaint routed to one, and the
              return-claim form on return words.
  work-floor  after each mailproc case: the floor's fetch of the N mails, then exactly the
              mails that case sent (bytes and envelopes as the SMTP server spooled them) sent
              again with bare smtplib over one connection. The aims compare against it.
  peer        django-helpdesk 2.6.1 `get_email` (bench/peer.py, its own cached venv) on its own
              copy of the mails: a ticket per mail, an acknowledgement to the submitter and a
              new-ticket notice to the marketing admin (--peer-ack-only: no notice).
  keep        an idle `mailproc poll` in keep-in-place mode on a user whose INBOX holds
              --keep-inbox mails that already carry $MailprocProcessed: run twice.

--smtp: `sink` (default) is an aiosmtpd server that counts (and, for the work floor, spools)
each message and answers 250 at once; `relay` is tests/servers.py's SmtpRelay, which answers
only after delivering the message into Dovecot over LMTP (7-20 ms a message on a 2-core VM:
it then dominates every case that sends); `maildir` is the old set-up, outgoing mail written to a
local Maildir (no work floor). Every run checks the job (N registered or N tickets, every mail
accepted by the server, an acknowledgement to every sender) and exits 1 when it was not done.

Wall time is measured around each process (interpreter start and imports included); each
process also reports its own phases and its peak RSS (VmHWM). CPU times come from wait4().
The aims of issue #11 (at N = 1,000): default configuration <= 20 ms CPU per complaint and
wall <= 1.5x its work floor; forms off <= 8 ms and <= 1.2x; both below the peer's CPU per
mail; peak RSS <= 120 MB (also at N = 10,000). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Issue #11 item 7, at N = 1,000: (CPU ms per complaint, wall as a multiple of the work floor)
AIMS = {"forms-off": (8.0, 1.2), "default": (20.0, 1.5)}
RSS_AIM_MB = 120  # peak RSS of a mailproc poll, at N = 1,000 and N = 10,000
CASES = ("floor", "work-floor", "forms-off", "default", "peer")
KEEP_AIM_SECONDS = 1.0
USER = "keluhan@contoh.co.id"  # the complaints mailbox (move mode)
KEEP_USER = "keluhan-bersama@contoh.co.id"  # a shared mailbox processed in keep mode
# The login whose INBOX each case reads: the same N mails, loaded once per user. Nobody sends
# mail to these addresses, so the relay (--smtp relay) never delivers into them.
INBOX_USERS = {c: f"{c}@inbox.bench.test" for c in ("floor", "forms-off", "default", "peer")}
KEYWORD = "$MailprocProcessed"
CHILD_TIMEOUT = 600.0
WIB = timezone(timedelta(hours=7))


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- mail generation ---------------------------------------------------------------------

FIRST = ["Budi", "Siti", "Agus", "Dewi", "Rudi", "Rina", "Hendra", "Wulan", "Joko", "Maya",
         "Andi", "Ratna", "Yusuf", "Indah", "Bambang", "Lestari", "Fajar", "Putri", "Eko", "Nur"]
LAST = ["Santoso", "Wijaya", "Saputra", "Lestari", "Hidayat", "Kusuma", "Pratama", "Siregar",
        "Nasution", "Gunawan", "Halim", "Setiawan", "Rahmawati", "Susanto", "Wibowo"]
COMPANIES = [
    ("CV Mitra Pangan", "mitra-pangan"), ("PT Sumber Rejeki", "sumber-rejeki"),
    ("UD Maju Jaya", "maju-jaya"), ("PT Sinar Abadi Plastik", "sinar-abadi"),
    ("CV Berkah Makmur", "berkah-makmur"), ("PT Nusantara Kemasindo", "nusantara-kemas"),
    ("Toko Sejahtera", "toko-sejahtera"), ("PT Aneka Minuman Segar", "aneka-minuman"),
    ("CV Cahaya Farma", "cahaya-farma"), ("PT Indo Kosmetik Prima", "indokosmetik"),
    ("UD Sari Rasa", "sari-rasa"), ("PT Global Distribusi", "global-distribusi"),
]
ROLES = ["Purchasing", "Staf Gudang", "QC Incoming", "Admin Pembelian", "Owner",
         "Supervisor Produksi", "Finance"]
PRODUCTS = ["Botol PET 600 ml", "Tutup Flip Top 28 mm", "Jerigen HDPE 5 L", "Preform 24 g",
            "Gelas Cup 220 ml", "Pail 20 L", "Botol HDPE 1 L", "Tutup Ulir 38 mm",
            "Standing Pouch 250 g", "Karton Box B-flute"]
UNITS = ["pcs", "karton", "dus", "pack", "pail", "roll"]
# (subject phrase, sentences for the body); the wording feeds mailproc's routing rules.
ISSUES = [
    ("barang rusak", ["Sebagian barang rusak saat kami terima.",
                      "Ada {k} pcs yang rusak dan tidak bisa dipakai."]),
    ("botol retak", ["Setelah kami periksa, {k} pcs retak di bagian leher.",
                     "Botol retak ini bocor saat diisi."]),
    ("kemasan penyok", ["Beberapa karton kemasan penyok dan sobek di sudutnya.",
                        "Kemasan penyok sehingga tidak bisa kami jual ke toko."]),
    ("pengiriman terlambat", ["Pengiriman terlambat {d} hari dari jadwal di PO.",
                              "Keterlambatan ini membuat produksi kami berhenti."]),
    ("double tagih", ["Faktur yang sama ditagih dua kali (double tagih).",
                      "Mohon nota kredit untuk tagihan ganda tersebut."]),
    ("qty kurang", ["Qty tidak sesuai surat jalan, kurang {k} pcs.",
                    "Jumlah yang kami terima selisih dengan dokumen."]),
    ("salah kirim", ["Barang yang datang salah kirim, bukan pesanan kami.",
                     "Kami menerima salah ukuran untuk item tersebut."]),
    ("warna beda", ["Warna beda dengan sampel yang sudah disetujui.",
                    "Perbedaan warna terlihat jelas antar batch."]),
    ("segel rusak", ["Segel rusak pada sebagian tutup.",
                     "Kami khawatir isi terkontaminasi karena segel terbuka."]),
    ("belum sampai", ["Barang belum sampai padahal sudah dijanjikan minggu lalu.",
                      "Status pengiriman tidak jelas dan belum ada tanggapan."]),
]
REQUESTS = ["Mohon barang yang rusak dapat diganti.", "Kami minta retur untuk barang tersebut.",
            "Mohon segera ditindaklanjuti.", "Mohon faktur dikoreksi.",
            "Tlg dicek ya, kami tunggu kabarnya.", "Kami minta penjelasan dan solusi secepatnya."]
FILLER = [
    "Sebagai informasi, barang tersebut akan kami pakai untuk produksi minggu depan.",
    "Kami sudah bekerja sama cukup lama dan biasanya kualitasnya baik.",
    "Foto dan catatan pemeriksaan dari gudang kami sudah kami simpan.",
    "Mohon dikabari apabila perlu tambahan data dari pihak kami.",
    "Tim kami siap membantu pengecekan bersama bila diperlukan.",
    "Hal ini sudah kami sampaikan juga ke sales yang menangani akun kami.",
]


def _png(rng: random.Random, approx: int) -> bytes:
    """A valid PNG of about `approx` bytes (noise does not compress)."""
    width = 32
    height = max(4, approx // (width * 3 + 1))
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 1))
            + chunk(b"IEND", b""))


def _pdf(rng: random.Random, approx: int, title: str) -> bytes:
    """A small one-page PDF (a scanned delivery note, say) of about `approx` bytes."""
    lines = [f"BT /F1 10 Tf 40 {800 - 14 * i} Td ({title} baris {i} "
             f"{rng.randint(1000, 9999)}) Tj ET" for i in range(max(3, approx // 60))]
    stream = "\n".join(lines).encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1,
                                                                                 xref)
    return bytes(out)


def make_mail(i: int, rng: random.Random, tag: str, now: datetime) -> bytes:
    """One realistic complaint, 1-30 KB. Senders repeat at most 3 times (the per-sender
    auto-reply cap is 5 a day, so every complaint gets its acknowledgement)."""
    s = i // 3
    first, last = FIRST[s % len(FIRST)], LAST[(s // len(FIRST)) % len(LAST)]
    company, dom = COMPANIES[s % len(COMPANIES)]
    sender = f"{first.lower()}.{last.lower()}{s // (len(FIRST) * len(LAST)) or ''}"
    addr = f"{sender}@{dom}.example.com"
    product = rng.choice(PRODUCTS)
    when = now - timedelta(minutes=rng.randint(5, 60 * 24 * 10))
    batch = f"LOT-{when:%y%m}-{rng.randint(1, 99):02d}"
    qty = rng.choice([24, 50, 120, 200, 480, 1000, 1200, 2400])
    unit = rng.choice(UNITS)
    sj = f"SJ-{when:%y}-{rng.randint(100, 9999)}"
    inv = f"INV/{when:%Y}/{when:%m}/{rng.randint(1, 9999):04d}"
    issues = rng.sample(ISSUES, rng.choice([1, 1, 2]))
    k, d = rng.randint(2, 60), rng.randint(2, 9)
    casual = rng.random() < 0.25
    subject = rng.choice([
        "Keluhan {p} - {x}", "Komplain: {x} ({sj})", "{x} pada pengiriman {p}",
        "RE: Pesanan {p} - {x}", "Mohon bantuan: {x}", "[Penting] {x} batch {b}",
    ]).format(p=product, x=" dan ".join(x for x, _ in issues), sj=sj, b=batch)
    if casual:
        para = [f"Siang min, brg {product} yg kami terima kemarin ada masalah."]
    else:
        para = [f"Dengan hormat,\n\nKami dari {company} ingin menyampaikan keluhan atas "
                f"pengiriman {product} yang kami terima pada {when:%d-%m-%Y}."]
    para.append(rng.choice([
        f"No. batch: {batch}, qty {qty} {unit} (surat jalan {sj}, faktur {inv}).",
        f"Produk: {product}\nNo. batch: {batch}\nJumlah: {qty} {unit}\nSurat jalan: {sj}",
        f"qty {qty} {unit}, lot {batch}, faktur {inv}",
    ]))
    for _, sentences in issues:
        para.append(" ".join(x.format(k=k, d=d) for x in sentences))
    para.append(rng.choice(REQUESTS))
    name = f"{first} {last}"
    phone = f"08{rng.randint(10**9, 10**10 - 1)}"
    sign = f"Terima kasih,\n{name}\n{rng.choice(ROLES)} - {company}\nTelp. {phone}"
    kind = rng.random()  # < 0.15 HTML only, < 0.40 text + HTML, else plain text
    cte = rng.choice(["quoted-printable", "quoted-printable", "base64", "8bit"])
    att = rng.random()  # < 0.25 a PNG photo, < 0.35 a scanned PDF
    attachment = b""
    if att < 0.25:
        attachment = _png(rng, rng.randint(2_000, 6_000))
    elif att < 0.35:
        attachment = _pdf(rng, rng.randint(2_000, 8_000), sj)
    # Pad with order lines and an earlier thread so whole mails spread over 1-30 KB, most
    # of them a few KB: the text budget accounts for the HTML copy, base64 and attachment.
    whole = min(30_000, max(1_000, rng.lognormvariate(8.2, 0.7)))
    inflate = (2.3 if 0.15 <= kind < 0.40 else 1.3 if kind < 0.15 else 1.0) * (
        1.37 if cte == "base64" else 1.05)
    target = int(max(600, (whole - 1.37 * len(attachment) - 600) / inflate))
    extra: list[str] = []
    size = sum(len(p) for p in para) + len(sign)
    if size < target:
        extra.append("Rincian pesanan:")
        while size < target:
            line = rng.choice([
                f"- {rng.choice(PRODUCTS)}: {rng.randint(1, 500)} {rng.choice(UNITS)}, "
                f"PO-{rng.randint(1000, 9999)}, kirim {rng.randint(1, 28)}/{when:%m}",
                f"> {rng.choice(FILLER)}",
                rng.choice(FILLER),
            ])
            extra.append(line)
            size += len(line) + 1
    body = "\n\n".join(para) + "\n\n" + "\n".join(extra) + "\n\n" + sign + "\n"

    msg = EmailMessage()
    msg["From"] = formataddr((name, addr))
    msg["To"] = formataddr(("Keluhan PT Contoh", USER))
    if rng.random() < 0.2:
        msg["Cc"] = f"sales@contoh.co.id, gudang@{dom}.example.com"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when.astimezone(WIB))
    msg["Message-ID"] = f"<bench-{tag}-{i:07d}@{dom}.example.com>"
    msg["X-Mailer"] = rng.choice(["Microsoft Outlook 16.0", "Thunderbird 115.4",
                                  "Gmail", "iPhone Mail (20H115)"])
    html = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in para) + (
        "<table border=1>" + "".join(f"<tr><td>{x}</td></tr>" for x in extra) + "</table>"
        if extra else "") + f"<p>{sign.replace(chr(10), '<br>')}</p>"
    if kind < 0.15:  # HTML only (webmail, phone)
        msg.set_content(f"<html><body>{html}</body></html>", subtype="html", cte=cte)
    elif kind < 0.40:  # text + HTML alternative
        msg.set_content(body, cte=cte)
        msg.add_alternative(f"<html><body>{html}</body></html>", subtype="html", cte=cte)
    else:
        msg.set_content(body, cte=cte)
    if att < 0.25:
        msg.add_attachment(attachment, maintype="image", subtype="png",
                           filename=f"foto-{rng.randint(1, 99)}.png")
    elif att < 0.35:
        msg.add_attachment(attachment, maintype="application", subtype="pdf",
                           filename=f"surat-jalan-{sj}.pdf")
    return msg.as_bytes()


# ---- loading the Maildir on disk ---------------------------------------------------------

def _ensure_maildir(dovecot: Any, user: str) -> Path:
    """Let Dovecot create the user's Maildir (as its mail user) with one IMAP login."""
    with dovecot.mailbox(user, initial_folder=None) as box:
        box.folder.status("INBOX")
    return dovecot.maildir_path(user)


def write_maildir(maildir: Path, mails: Iterable[bytes], keyword_letter: str | None) -> int:
    """Write `mails` straight into the Maildir: new/ (unseen, no flags) or, with a keyword,
    cur/ with ':2,S<letter>'. Files get the Maildir's owner and mode 0600, like Dovecot's
    own. S= and W= in the name let Dovecot skip a stat/read for the sizes."""
    st = maildir.stat()
    chown = os.geteuid() == 0
    tmp = maildir / "tmp"
    dest = maildir / ("cur" if keyword_letter else "new")
    stamp = int(time.time())
    pid = os.getpid()
    total = 0
    for i, raw in enumerate(mails):
        vsize = len(raw) + raw.count(b"\n") - raw.count(b"\r\n")
        name = f"{stamp}.M{i:07d}P{pid}.bench,S={len(raw)},W={vsize}"
        if keyword_letter:
            name += f":2,S{keyword_letter}"
        fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, raw)
            if chown:
                os.fchown(fd, st.st_uid, st.st_gid)
        finally:
            os.close(fd)
        os.rename(tmp / name, dest / name)
        total += len(raw)
    return total


def write_keywords_file(maildir: Path, keywords: list[str]) -> None:
    """dovecot-keywords: '<index> <keyword>' per line; index 0 is flag letter 'a'."""
    path = maildir / "dovecot-keywords"
    path.write_text("".join(f"{n} {k}\n" for n, k in enumerate(keywords)))
    path.chmod(0o600)
    st = maildir.stat()
    if os.geteuid() == 0:
        os.chown(path, st.st_uid, st.st_gid)


# ---- child processes ---------------------------------------------------------------------

# Each child reports its own phases to the file in BENCH_REPORT (time.monotonic() is
# system-wide on Linux, so `t_start` against the parent's spawn time is the exec and
# interpreter start-up) and its peak RSS as VmHWM from /proc/self/status. Not ru_maxrss: on
# Linux, exec() folds the high-water mark of the address space it replaces into ru_maxrss,
# and subprocess spawns with vfork, so that is the *parent's* (this script's) peak.

_CHILD_COMMON = r"""
def _vmhwm_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0
"""

FLOOR_CHILD = r"""
import time
t_start = time.monotonic()
import json, os, sys
from pathlib import Path
from imap_tools import MailBox, MailBoxUnencrypted
from imap_tools.message import MailMessage
t_imported = time.monotonic()
""" + _CHILD_COMMON + r"""
class RawMessage(MailMessage):
    # imap-tools parses every message (email.message_from_bytes); keep its raw bytes too.
    def __init__(self, fetch_data):
        super().__init__(fetch_data)
        self.raw = self._get_message_data_parts(fetch_data)[0]

host, port, user, password, out, tls, ca = sys.argv[1:8]
out = Path(out)
out.mkdir(parents=True, exist_ok=True)
if tls == "1":
    import ssl
    box = MailBox(host, int(port), timeout=60, ssl_context=ssl.create_default_context(cafile=ca))
else:
    box = MailBoxUnencrypted(host, int(port), timeout=60)
box.email_message_class = RawMessage
box.login(user, password)
n = size = 0
for msg in box.fetch(mark_seen=False, bulk=100):
    (out / f"{msg.uid}.eml").write_bytes(msg.raw)
    n += 1
    size += len(msg.raw)
box.logout()
t_end = time.monotonic()
Path(os.environ["BENCH_REPORT"]).write_text(json.dumps({
    "t_start": t_start, "import_s": t_imported - t_start, "work_s": t_end - t_imported,
    "messages": n, "bytes": size, "vmhwm_kb": _vmhwm_kb()}))
"""

MAILPROC_CHILD = r"""
import time
t_start = time.monotonic()
import json, os, sys
from mailproc.cli import cli
t_imported = time.monotonic()
""" + _CHILD_COMMON + r"""
timers = {}

def _wrap(owner, name, label=None, key=None):
    # Inclusive wall time and calls of owner.name (nested entries overlap).
    fn = getattr(owner, name)
    if key is None:
        timers[label or name] = [0, 0.0]  # report in the order wrapped
    def wrapper(*args, **kwargs):
        lab = key(args) if key else (label or name)
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            c = timers.setdefault(lab, [0, 0.0])
            c[0] += 1
            c[1] += time.perf_counter() - t
    setattr(owner, name, wrapper)

if os.environ.get("BENCH_BREAKDOWN"):
    import peewee
    from mailproc import store
    from mailproc.outgoing import message, transports
    from mailproc.outgoing import outbox as outbox_mod
    from mailproc.intake import polling, services
    from mailproc.archive import Archive
    from mailproc.intake.mailbox import ImapSource
    from mailproc.outgoing.texts import MailTexts
    from mailproc.ptpp import documents
    _wrap(polling, "poll", "polling.poll (fetch, work ahead, record, mark, flush per batch)")
    _wrap(services, "work_ahead", "  work_ahead (parse; forms of new complaints; no tx)")
    _wrap(services, "process_mail", "  process_mail (decide, register; in the batch tx)")
    _wrap(services, "parse_message", "    parse_message")
    _wrap(services, "gather_facts", "    gather_facts (thread/subject lookups)")
    _wrap(services, "classify_text", "    classify_text (routing)")
    _wrap(services, "extract_fields", "    extract_fields (regexes)")
    _wrap(services, "_create_message", "    _create_message (archive .eml + attachments + row)")
    _wrap(Archive, "store_message", "      Archive.store_message")
    _wrap(Archive, "store_attachment", "      Archive.store_attachment")
    _wrap(MailTexts, "render", "    MailTexts.render (mail texts)")
    _wrap(services, "queue_mail", "    queue_mail (outgoing row + message + event)")
    _wrap(store, "append_event", "    store.append_event (hash chain)")
    _wrap(ImapSource, "_uid", key=lambda a: f"IMAP UID {a[1]} round trips (inside the poll)")
    # The *_from functions: both the registration's renders (before its transaction) and
    # those from a stored complaint go through them.
    _wrap(documents, "render_ptpp_from", "    documents.render_ptpp_from (the PTPP form)")
    _wrap(documents, "render_return_form_from", "    documents.render_return_form_from")
    _wrap(outbox_mod, "flush", "  outbox.flush (build + send the outgoing mail)")
    _wrap(message, "build_message", "    message.build_message")
    _wrap(message, "serialize", "    message.serialize")
    _wrap(transports.SmtpTransport, "send", "    SmtpTransport.send")
    _wrap(transports.MaildirTransport, "send", "    MaildirTransport.send (write + fsync)")
    _wrap(peewee.SqliteDatabase, "execute_sql", "SQLite execute_sql (every statement)")
    _wrap(peewee.SqliteDatabase, "commit", "SQLite commit")

profile = os.environ.get("BENCH_PROFILE")
prof = None
if profile:
    import cProfile
    prof = cProfile.Profile()
    prof.enable()
code = 0
try:
    cli.main(args=sys.argv[1:], prog_name="mailproc")
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
finally:
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    t_end = time.monotonic()
    with open(os.environ["BENCH_REPORT"], "w") as fh:
        json.dump({"t_start": t_start, "import_s": t_imported - t_start,
                   "work_s": t_end - t_imported, "vmhwm_kb": _vmhwm_kb(),
                   "breakdown": {k: {"calls": c, "seconds": round(s, 4)}
                                 for k, (c, s) in timers.items() if c}}, fh)
sys.exit(code)
"""


# The work floor: the floor's fetch, then the mails a mailproc case sent (exactly those bytes
# and envelopes, as the SMTP server spooled them) sent again with bare smtplib over one
# connection, the way mailproc's flush sends them.
WORKFLOOR_CHILD = r"""
import time
t_start = time.monotonic()
import json, os, smtplib, sys
from pathlib import Path
from imap_tools import MailBox, MailBoxUnencrypted
from imap_tools.message import MailMessage
t_imported = time.monotonic()
""" + _CHILD_COMMON + r"""
class RawMessage(MailMessage):
    def __init__(self, fetch_data):
        super().__init__(fetch_data)
        self.raw = self._get_message_data_parts(fetch_data)[0]

host, port, user, password, out, tls, ca, smtp_host, smtp_port, spool = sys.argv[1:11]
out, spool = Path(out), Path(spool)
out.mkdir(parents=True, exist_ok=True)
if tls == "1":
    import ssl
    box = MailBox(host, int(port), timeout=60, ssl_context=ssl.create_default_context(cafile=ca))
else:
    box = MailBoxUnencrypted(host, int(port), timeout=60)
box.email_message_class = RawMessage
box.login(user, password)
n = size = 0
for msg in box.fetch(mark_seen=False, bulk=100):
    (out / f"{msg.uid}.eml").write_bytes(msg.raw)
    n += 1
    size += len(msg.raw)
box.logout()
t_fetched = time.monotonic()
sent = sent_bytes = 0
with open(spool / "index.jsonl") as fh:
    entries = [json.loads(line) for line in fh]
smtp = smtplib.SMTP(smtp_host, int(smtp_port), timeout=60)
smtp.ehlo()
for e in entries:
    raw = (spool / e["file"]).read_bytes()
    opts = [o for o in e["options"] if smtp.has_extn(o.split("=", 1)[0].lower())]
    smtp.sendmail(e["from"], e["rcpts"], raw, mail_options=opts)
    sent += 1
    sent_bytes += len(raw)
smtp.quit()
t_end = time.monotonic()
Path(os.environ["BENCH_REPORT"]).write_text(json.dumps({
    "t_start": t_start, "import_s": t_imported - t_start, "work_s": t_end - t_imported,
    "fetch_s": t_fetched - t_imported, "send_s": t_end - t_fetched,
    "messages": n, "bytes": size, "sent": sent, "sent_bytes": sent_bytes,
    "vmhwm_kb": _vmhwm_kb()}))
"""

# The SMTP server all outgoing mail goes to, in a process of its own (never a timed one):
#   sink   aiosmtpd that answers 250 as soon as it has the message (as an MTA that queues it);
#   relay  tests/servers.py's SmtpRelay: answers 250 only after delivering the message into
#          Dovecot over LMTP (one LMTP connection per message), as the integration tests do.
# Both count what they accept and, when told, spool it (bytes + envelope) for the work floor.
# Commands on stdin, one JSON answer per line on stdout.
SMTP_SERVER_CHILD = r"""
import json, os, sys, threading, types
mode, tests_dir, lmtp_host, lmtp_port = sys.argv[1:5]
sys.path.insert(0, tests_dir)
from servers import HOST, SmtpRelay, free_port
from aiosmtpd.controller import Controller

lock = threading.Lock()
state = {"messages": 0, "bytes": 0, "rcpts": {}}
spool = {"dir": None, "index": None, "seq": 0}

def record(mail_from, rcpts, raw, options):
    with lock:
        state["messages"] += 1
        state["bytes"] += len(raw)
        for r in rcpts:
            state["rcpts"][r.lower()] = state["rcpts"].get(r.lower(), 0) + 1
        if spool["dir"]:
            spool["seq"] += 1
            name = f"{spool['seq']:07d}.eml"
            with open(os.path.join(spool["dir"], name), "wb") as fh:
                fh.write(raw)
            spool["index"].write(json.dumps({"file": name, "from": mail_from, "rcpts": rcpts,
                                             "options": options}) + "\n")

class Sink:
    async def handle_DATA(self, server, session, envelope):
        record(envelope.mail_from or "", list(envelope.rcpt_tos),
               envelope.original_content or b"", list(envelope.mail_options))
        return "250 2.0.0 OK queued"

class Recorder(list):  # SmtpRelay.received: count and spool instead of keeping every mail
    def append(self, item):
        mail_from, rcpts, raw = item
        record(mail_from, list(rcpts), raw, [])

if mode == "relay":
    relay = SmtpRelay(types.SimpleNamespace(host=lmtp_host, lmtp_port=int(lmtp_port)),
                      smtputf8=True)
    relay.received = Recorder()
    relay.start()
    port, stop = relay.port, relay.stop
else:
    controller = Controller(Sink(), hostname=HOST, port=free_port(), server_hostname="localhost",
                            ready_timeout=5.0, enable_SMTPUTF8=True)
    controller.start()
    port, stop = controller.port, controller.stop
print(json.dumps({"port": port}), flush=True)
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    with lock:
        if cmd == "stats":
            answer = dict(state, rcpts=dict(state["rcpts"]))
        elif cmd == "spool":
            os.makedirs(arg, exist_ok=True)
            spool["dir"], spool["index"] = arg, open(os.path.join(arg, "index.jsonl"), "w")
            answer = {"spool": arg}
        elif cmd == "unspool":
            if spool["index"]:
                spool["index"].close()
            spool["dir"] = spool["index"] = None
            answer = {"spool": None}
        else:
            break
    print(json.dumps(answer), flush=True)
stop()
"""


class SmtpServer:
    """SMTP_SERVER_CHILD in its own process: start(), ask(), stop()."""

    def __init__(self, mode: str, dovecot: Any, workdir: Path) -> None:
        self.mode = mode
        self.host = "127.0.0.1"
        self.err = open(workdir / f"smtp-{mode}.stderr", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SMTP_SERVER_CHILD, mode, str(REPO / "tests"), dovecot.host,
             str(dovecot.lmtp_port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True,
            env=_env())
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            self.stop()
            raise SystemExit(f"the SMTP {mode} did not start: "
                             f"{(workdir / f'smtp-{mode}.stderr').read_text()[-2000:]}")
        self.port = int(json.loads(line)["port"])

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self.proc.stdin
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


def _compile_mailproc() -> None:
    """mailproc compiled once into its __pycache__ folders, so no timed process pays for
    compiling it: this checkout was not installed with bytecode (a wheel is), and
    PYTHONDONTWRITEBYTECODE may be set. The libraries were compiled when pip installed them."""
    global _COMPILED
    if not _COMPILED:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "mailproc")],
                       check=True, stdout=subprocess.DEVNULL)
        _COMPILED = True


_COMPILED = False


def run_child(argv: list[str], env: dict[str, str], workdir: Path, label: str,
              timeout: float = CHILD_TIMEOUT) -> dict[str, Any]:
    """Run one process: wall time around it, CPU from wait4() of exactly that process, the
    rest from the report the child writes."""
    report = workdir / f"report-{label}.json"
    report.unlink(missing_ok=True)
    out_path, err_path = workdir / f"{label}.stdout", workdir / f"{label}.stderr"
    _compile_mailproc()  # as an installed wheel runs: from bytecode, not compiled each time
    env = env | {"BENCH_REPORT": str(report)}
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C / SIGTERM: the child goes too, before the cleanup
            proc.kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{label}: exit code {proc.returncode}\n--- stdout ---\n{stdout[-3000:]}"
                         f"\n--- stderr ---\n{stderr[-3000:]}")
    inner = json.loads(report.read_text()) if report.exists() else {}
    result = {"wall_s": wall, "ru_maxrss_mb": usage.ru_maxrss / 1024,
              "user_cpu_s": usage.ru_utime, "sys_cpu_s": usage.ru_stime,
              "stdout": stdout, "stderr": stderr}
    if inner:
        result["startup_s"] = inner.pop("t_start") - t0  # exec + interpreter start
        result["peak_rss_mb"] = inner.pop("vmhwm_kb") / 1024
        if not inner.get("breakdown", True):
            del inner["breakdown"]
        result.update(inner)
    return result


def _env() -> dict[str, str]:
    """The parent's environment without any MAILPROC_* the caller may have set."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MAILPROC_")}


def time_python(code: str, repeat: int = 3) -> float:
    """Best wall time of `python -c code` (start-up and imports only)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", code], check=True, env=_env())
        best = min(best, time.monotonic() - t0)
    return best


# ---- mailproc configuration --------------------------------------------------------------

def write_config(root: Path, *, mode: str, ca_file: str | None, forms: bool = True) -> Path:
    """config/mailproc.example.toml with the paths a temporary install needs; connections and
    the database come from MAILPROC_* variables (see mailproc_env)."""
    text = (REPO / "config" / "mailproc.example.toml").read_text(encoding="utf-8")
    templates = (REPO / "doc_templates").as_posix()
    text, n1 = re.subn(r'(?m)^# templates = .*$', f'templates = "{templates}"', text, count=1)
    text, n2 = re.subn(r'(?m)^mode = "move"$', f'mode = "{mode}"', text, count=1)
    n3 = 1
    if ca_file:  # the first ca_file is [mailbox]'s
        text, n3 = re.subn(r'(?m)^ca_file = ""$', f'ca_file = "{ca_file}"', text, count=1)
    n4 = n5 = 1
    if not forms:  # intake alone: no Word forms rendered during the poll
        text, n4 = re.subn(r'(?m)^issue_on_registration = true$',
                           'issue_on_registration = false', text, count=1)
        text, n5 = re.subn(r'(?m)^return_form_on_registration = true$',
                           'return_form_on_registration = false', text, count=1)
    if (n1, n2, n3, n4, n5) != (1, 1, 1, 1, 1):
        raise SystemExit("config/mailproc.example.toml changed shape: cannot edit it")
    path = root / "config" / "mailproc.toml"  # paths.root = ".." → root
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def mailproc_env(root: Path, dovecot: Any, user: str, tls: bool,
                 smtp_url: str | None = None) -> dict[str, str]:
    quoted = user.replace("@", "%40")
    if tls:
        url = f"imaps://{quoted}@{dovecot.host}:{dovecot.imaps_port}/INBOX"
    else:
        url = f"imap://{quoted}@{dovecot.host}:{dovecot.imap_port}/INBOX"
    return _env() | {
        "MAILPROC_MAILBOX_URL": url,
        "MAILPROC_MAILBOX_PASSWORD": dovecot.password,
        "MAILPROC_SMTP_URL": smtp_url or f"maildir:{root / 'var' / 'sent'}",
        "MAILPROC_DATABASE_URL": f"sqlite:///{root / 'var' / 'mailproc.db'}",
    }


def mailproc_cmd(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", MAILPROC_CHILD, "--config", str(config), *args]


# ---- the benchmark -----------------------------------------------------------------------

def child_timeout(n: int) -> float:
    return CHILD_TIMEOUT + 0.5 * n  # the default configuration takes ~0.2 s a mail


def _sender(raw: bytes) -> str:
    m = re.search(rb"(?m)^From: .*<([^>]+)>", raw)
    return m.group(1).decode().lower() if m else ""


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the SMTP server accepted between two `stats` answers."""
    rcpts = {a: k - before["rcpts"].get(a, 0) for a, k in after["rcpts"].items()}
    return {"messages": after["messages"] - before["messages"],
            "bytes": after["bytes"] - before["bytes"],
            "rcpts": {a: k for a, k in rcpts.items() if k}}


def _acks(senders: dict[str, int], got: dict[str, Any]) -> int:
    """Complaints whose sender got a mail: each sender wrote senders[a] of them."""
    return sum(min(got["rcpts"].get(a, 0), k) for a, k in senders.items())


def bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "tests"))
    from servers import Dovecot  # tests/ is not a package

    cases = args.cases
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "n": args.n, "keep_inbox": args.keep_inbox, "transport": "imaps" if args.tls else "imap",
        "smtp": args.smtp, "cases_run": cases,
        "aims": {c: {"cpu_ms_per_complaint": a[0], "wall_x_work_floor": a[1],
                     "below_peer_cpu_per_mail": True, "peak_rss_mb": RSS_AIM_MB}
                 for c, a in AIMS.items()} | {"keep_idle_poll_s": KEEP_AIM_SECONDS},
        "cases": {},
    }
    peer_python = None
    if "peer" in cases:  # before anything is timed: the first call installs the venv
        import peer as peer_mod  # bench/peer.py (bench/ is this script's sys.path[0])

        peer_python = peer_mod.ensure_venv(args.peer_venv)
    dovecot = Dovecot(work / "dovecot")
    smtp: SmtpServer | None = None
    try:
        t0 = time.monotonic()
        dovecot.start()
        log(f"dovecot up on 127.0.0.1:{dovecot.imap_port} in {time.monotonic() - t0:.2f}s")
        ca = str(dovecot.ca_file) if args.tls else None
        port = dovecot.imaps_port if args.tls else dovecot.imap_port

        # -- N complaints, the same copy in the INBOX of every case that reads them -----------
        rng = random.Random(args.seed)
        tag = f"{int(time.time())}"
        now = datetime.now(UTC)
        t0 = time.monotonic()
        mails = [make_mail(i, rng, tag, now) for i in range(args.n)]
        gen_s = time.monotonic() - t0
        senders: dict[str, int] = {}
        for raw in mails:
            senders[_sender(raw)] = senders.get(_sender(raw), 0) + 1
        users = [u for c, u in INBOX_USERS.items()
                 if c in cases or (c == "floor" and "work-floor" in cases)]
        write_s = index_s = 0.0
        total = 0
        for user in users:
            maildir = _ensure_maildir(dovecot, user)
            t0 = time.monotonic()
            total = write_maildir(maildir, mails, None)
            write_s += time.monotonic() - t0
            t0 = time.monotonic()
            with dovecot.mailbox(user) as box:  # SELECT: Dovecot scans new/ and gives UIDs
                status = box.folder.status("INBOX")
                uids = box.uids()
            index_s += time.monotonic() - t0
            if status["MESSAGES"] != args.n or len(uids) != args.n:
                raise SystemExit(f"loaded {args.n} mails but {user}'s INBOX shows {status}")
        sizes = sorted(len(m) for m in mails)
        results["load"] = {
            "messages": args.n, "bytes": total, "inboxes": users,
            "size_min_kb": sizes[0] / 1024, "size_median_kb": sizes[len(sizes) // 2] / 1024,
            "size_max_kb": sizes[-1] / 1024, "senders": len(senders),
            "generate_s": gen_s, "write_maildir_s": write_s, "dovecot_first_select_s": index_s,
        }
        del mails
        log(f"loaded {args.n} mails ({total / 1e6:.1f} MB) into {len(users)} INBOXes "
            f"({', '.join(users)}): generate {gen_s:.2f}s, write {write_s:.2f}s, "
            f"first SELECTs {index_s:.2f}s")

        # -- start-up costs ------------------------------------------------------------------
        results["startup"] = {
            "python_s": time_python("pass"),
            "import_imap_tools_s": time_python("import imap_tools"),
            "import_mailproc_cli_s": time_python("import mailproc.cli"),
        }

        # -- the SMTP server (its own process) ------------------------------------------------
        if args.smtp != "maildir" or "peer" in cases:
            smtp = SmtpServer("sink" if args.smtp == "maildir" else args.smtp, dovecot, work)
            log(f"SMTP {smtp.mode} on 127.0.0.1:{smtp.port} (pid {smtp.proc.pid})")

        # -- floor ---------------------------------------------------------------------------
        if "floor" in cases:
            floors = []
            for run in (1, 2, 3):
                out = work / f"floor-eml-{run}"
                r = run_child([sys.executable, "-c", FLOOR_CHILD, dovecot.host, str(port),
                               INBOX_USERS["floor"], dovecot.password, str(out),
                               "1" if args.tls else "0", ca or ""],
                              _env(), work, f"floor{run}", child_timeout(args.n))
                if r.get("messages") != args.n:
                    raise SystemExit(f"floor run {run} fetched {r.get('messages')} of {args.n}")
                r.pop("stdout"), r.pop("stderr")
                floors.append(r)
                log(f"floor run {run}: {r['wall_s']:.2f}s wall, {r['peak_rss_mb']:.0f} MB peak")
                shutil.rmtree(out)
            floor = min(floors, key=lambda r: r["wall_s"])
            results["cases"]["floor"] = floor | {"runs_wall_s": [r["wall_s"] for r in floors]}

        # -- the peer ------------------------------------------------------------------------
        if "peer" in cases:
            assert smtp is not None and peer_python is not None
            results["cases"]["peer"] = peer_case(args, peer_python, dovecot, smtp, work,
                                                 port, senders)

        # -- mailproc, each configuration on its own copy, then its work floor ---------------
        for case in ("forms-off", "default"):
            if case not in cases:
                continue
            r = mailproc_case(args, case, dovecot, smtp if args.smtp != "maildir" else None,
                              work, ca, senders)
            results["cases"][case] = r
            if "work-floor" in cases and args.smtp != "maildir":
                assert smtp is not None
                results["cases"][f"work-floor/{case}"] = work_floor(
                    args, case, dovecot, smtp, work, port, ca, r["sent"])

        # -- keep-in-place idle poll -------------------------------------------------------
        if args.keep_inbox:
            results["keep"] = keep_bench(args, dovecot, work, now, ca)
    finally:
        if smtp is not None:
            smtp.stop()
        dovecot.stop()
        log("dovecot stopped")
    return results


def mailproc_case(args: argparse.Namespace, case: str, dovecot: Any, smtp: SmtpServer | None,
                  work: Path, ca: str | None, senders: dict[str, int]) -> dict[str, Any]:
    """One `mailproc poll --json` over INBOX_USERS[case]: forms off or the default config."""
    user = INBOX_USERS[case]
    root = work / f"mailproc-{case}"
    config = write_config(root, mode="move", ca_file=ca, forms=case == "default")
    env = mailproc_env(root, dovecot, user, args.tls,
                       f"smtp://{smtp.host}:{smtp.port}" if smtp else None)
    run_child(mailproc_cmd(config, "init"), env, work, f"{case}-init")
    if args.profile:
        path = Path(args.profile).resolve()
        if sum(c in args.cases for c in ("forms-off", "default")) > 1:
            path = path.with_name(f"{path.stem}-{case}{path.suffix}")
        env = env | {"BENCH_PROFILE": str(path)}
    if args.breakdown:
        env = env | {"BENCH_BREAKDOWN": "1"}
    before = smtp.ask("stats") if smtp else None
    if smtp and "work-floor" in args.cases:
        smtp.ask(f"spool {work / f'spool-{case}'}")
    r = run_child(mailproc_cmd(config, "poll", "--json"), env, work, f"{case}-poll",
                  child_timeout(args.n))
    summary = json.loads(r.pop("stdout"))
    stderr = r.pop("stderr")
    registered = len(summary["registered"])
    acks: int | None = None
    if smtp and before:
        smtp.ask("unspool")
        got = _delta(before, smtp.ask("stats"))
        delivered, acks = got["messages"], _acks(senders, got)
        r["smtp_bytes"] = got["bytes"]
    else:
        delivered = sum(1 for _ in (root / "var" / "sent" / "new").iterdir())
    with dovecot.mailbox(user, initial_folder=None) as box:
        left = box.folder.status("INBOX")["MESSAGES"]
        processed = box.folder.status("Processed")["MESSAGES"]
    r |= {"case": case, "user": user, "summary_seconds": summary["seconds"],
          "fetched": summary["fetched"], "registered": registered,
          "outcomes": summary["outcomes"], "sent": summary["sent"], "delivered": delivered,
          "acknowledged_senders": acks, "inbox_left": left, "processed_folder": processed,
          "profiled": bool(args.profile), "breakdown_on": args.breakdown}
    # At least the acknowledgement and the notice per complaint, every one of them accepted.
    if (registered != args.n or summary["sent"] < 2 * args.n
            or delivered != summary["sent"] or summary["deferred"] or summary["failed"]
            or processed != args.n or left != 0 or summary["errors"]
            or acks not in (None, args.n)):
        raise SystemExit(
            f"mailproc ({case}) did not do the whole job: registered {registered} of {args.n}, "
            f"sent {summary['sent']} (want ≥ {2 * args.n}), {delivered} delivered, "
            f"{acks} senders acknowledged, deferred {summary['deferred']}, failed "
            f"{summary['failed']}, Processed {processed}, INBOX left {left}, errors "
            f"{summary['errors'][:3]}, outcomes {summary['outcomes']}\n--- stderr ---\n"
            f"{stderr[-3000:]}")
    log(f"mailproc poll ({case}): {r['wall_s']:.2f}s wall, "
        f"{r['user_cpu_s'] + r['sys_cpu_s']:.2f}s CPU, {r['peak_rss_mb']:.0f} MB peak, "
        f"{registered} registered, {delivered} outgoing mails "
        + (f"accepted by the SMTP {smtp.mode}" if smtp else "written to a local Maildir"))
    return r


def work_floor(args: argparse.Namespace, case: str, dovecot: Any, smtp: SmtpServer,
               work: Path, port: int, ca: str | None, sent: int) -> dict[str, Any]:
    """Fetch the N mails (as the floor does), then send what mailproc's `case` sent."""
    spool = work / f"spool-{case}"
    out = work / f"work-floor-eml-{case}"
    before = smtp.ask("stats")
    r = run_child([sys.executable, "-c", WORKFLOOR_CHILD, dovecot.host, str(port),
                   INBOX_USERS["floor"], dovecot.password, str(out), "1" if args.tls else "0",
                   ca or "", smtp.host, str(smtp.port), str(spool)],
                  _env(), work, f"work-floor-{case}", child_timeout(args.n))
    r.pop("stdout"), r.pop("stderr")
    got = _delta(before, smtp.ask("stats"))
    if r.get("messages") != args.n or r.get("sent") != sent or got["messages"] != sent:
        raise SystemExit(f"work floor ({case}) fetched {r.get('messages')} of {args.n}, sent "
                         f"{r.get('sent')} of {sent}, the server accepted {got['messages']}")
    r["case"] = case
    shutil.rmtree(out)
    if not args.keep_workdir:
        shutil.rmtree(spool)
    log(f"work floor ({case} mails): {r['wall_s']:.2f}s wall (fetch {r['fetch_s']:.2f}s, send "
        f"{r['sent']} mails {r['send_s']:.2f}s), {r['user_cpu_s'] + r['sys_cpu_s']:.2f}s CPU, "
        f"{r['peak_rss_mb']:.0f} MB peak")
    return r


def peer_case(args: argparse.Namespace, python: Path, dovecot: Any, smtp: SmtpServer,
              work: Path, port: int, senders: dict[str, int]) -> dict[str, Any]:
    """django-helpdesk's get_email over INBOX_USERS["peer"] (bench/peer.py)."""
    import peer as peer_mod

    user = INBOX_USERS["peer"]
    before = smtp.ask("stats")
    r = peer_mod.run_peer(python=python, workdir=work / "peer", imap_host=dovecot.host,
                          imap_port=port, tls=args.tls, user=user, password=dovecot.password,
                          address=USER, smtp_host=smtp.host, smtp_port=smtp.port, n=args.n,
                          ack_only=args.peer_ack_only, timeout=child_timeout(args.n))
    got = _delta(before, smtp.ask("stats"))
    acks = _acks(senders, got)
    notices = got["rcpts"].get(peer_mod.NOTICE_TO, 0)
    with dovecot.mailbox(user, initial_folder=None) as box:
        left = box.folder.status("INBOX")["MESSAGES"]
    r |= {"case": "peer", "user": user, "delivered": got["messages"], "smtp_bytes": got["bytes"],
          "acknowledged_senders": acks, "notices": notices, "inbox_left": left}
    if acks != args.n or (not args.peer_ack_only and notices != args.n) or left:
        raise SystemExit(f"the peer did not do the whole job: {r['tickets']} tickets, "
                         f"{acks} of {args.n} senders acknowledged, {notices} notices, "
                         f"{got['messages']} mails accepted, INBOX left {left}")
    log(f"peer get_email: {r['wall_s']:.2f}s wall, {r['user_cpu_s'] + r['sys_cpu_s']:.2f}s CPU, "
        f"{r['peak_rss_mb']:.0f} MB peak, {r['tickets']} tickets, {got['messages']} mails sent")
    return r


def keep_bench(args: argparse.Namespace, dovecot: Any, work: Path, now: datetime,
               ca: str | None) -> dict[str, Any]:
    rng = random.Random(args.seed + 1)
    base = [make_mail(i, rng, "KEEPTAG", now) for i in range(min(args.keep_inbox, 300))]
    t0 = time.monotonic()
    mails = (base[i % len(base)].replace(b"bench-KEEPTAG-", f"keep-{i:09d}-".encode(), 1)
             for i in range(args.keep_inbox))  # lazily: keeps this script's RSS small
    maildir = _ensure_maildir(dovecot, KEEP_USER)
    write_keywords_file(maildir, [KEYWORD])
    write_maildir(maildir, mails, "a")
    write_s = time.monotonic() - t0
    del mails
    t0 = time.monotonic()
    with dovecot.mailbox(KEEP_USER) as box:  # first SELECT indexes every file
        index_s = time.monotonic() - t0
        typ, data = box.client.uid("FETCH", "1", "(FLAGS)")
        flags = data[0].decode() if typ == "OK" and data and data[0] else ""
        uids = box.uids()
        unmarked = box.uids(f"NOT KEYWORD {KEYWORD}")
    if KEYWORD not in flags or len(uids) != args.keep_inbox or unmarked:
        raise SystemExit(f"keep inbox not as expected: FETCH FLAGS {flags!r}, {len(uids)} mails, "
                         f"{len(unmarked)} without {KEYWORD}")
    log(f"keep inbox: {args.keep_inbox} mails with {KEYWORD} in {KEEP_USER} (write "
        f"{write_s:.2f}s, first SELECT {index_s:.2f}s); FETCH FLAGS: {flags}")
    root = work / "mailproc-keep"
    config = write_config(root, mode="keep", ca_file=ca)
    env = mailproc_env(root, dovecot, KEEP_USER, args.tls)
    run_child(mailproc_cmd(config, "init"), env, work, "keep-init")
    if args.breakdown:
        env = env | {"BENCH_BREAKDOWN": "1"}
    polls = []
    for n in (1, 2):
        before = _position(root)
        poll_env = env
        if args.profile:
            path = Path(args.profile).resolve()
            poll_env = env | {"BENCH_PROFILE": str(path.with_name(
                f"{path.stem}-keep{n}{path.suffix}"))}
        r = run_child(mailproc_cmd(config, "poll", "--json"), poll_env, work, f"keep-poll{n}")
        summary = json.loads(r.pop("stdout"))
        r.pop("stderr")
        if summary["fetched"] or summary["errors"]:
            raise SystemExit(f"idle keep poll {n} fetched {summary['fetched']} "
                             f"(errors {summary['errors']})")
        r["summary_seconds"] = summary["seconds"]
        r["position_before"], r["position_after"] = before, _position(root)
        polls.append(r)
        log(f"keep poll {n}: {r['wall_s']:.3f}s wall ({r['work_s']:.3f}s in process, "
            f"poll loop {summary['seconds']:.3f}s)")
    return {"messages": args.keep_inbox, "fetch_flags_uid1": flags,
            "write_maildir_s": write_s, "dovecot_first_select_s": index_s,
            "poll1": polls[0], "poll2": polls[1]}


def _position(root: Path) -> dict[str, int] | None:
    """The stored (uidvalidity, last_uid) of the keep mailbox, None when there is none yet."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(root / "var" / "mailproc.db")) as conn:
        row = conn.execute("SELECT uidvalidity, last_uid FROM mailbox_position").fetchone()
    return {"uidvalidity": row[0], "last_uid": row[1]} if row else None


# ---- report ------------------------------------------------------------------------------

LABELS = {
    "floor": "floor: fetch (imap-tools)",
    "work-floor/forms-off": "work floor: + send forms-off mail",
    "forms-off": "mailproc poll, forms off",
    "work-floor/default": "work floor: + send default mail",
    "default": "mailproc poll, default config",
    "peer": "peer: helpdesk get_email",
}


def _cpu(r: dict[str, Any]) -> float:
    return r["user_cpu_s"] + r["sys_cpu_s"]


def verdicts(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each mailproc case against the aims of issue #11 (and the plain ratios)."""
    n, cases = res["n"], res["cases"]
    out: dict[str, dict[str, Any]] = {}
    for case, (cpu_aim, wall_aim) in AIMS.items():
        if case not in cases:
            continue
        m = cases[case]
        v: dict[str, Any] = {"cpu_ms_per_complaint": 1000 * _cpu(m) / n,
                             "cpu_aim_ms": cpu_aim, "peak_rss_mb": m["peak_rss_mb"]}
        v["cpu_ok"] = v["cpu_ms_per_complaint"] <= cpu_aim
        v["rss_ok"] = m["peak_rss_mb"] <= RSS_AIM_MB
        wf = cases.get(f"work-floor/{case}")
        if wf:
            v |= {"wall_x_work_floor": m["wall_s"] / wf["wall_s"],
                  "cpu_x_work_floor": _cpu(m) / _cpu(wf), "wall_aim_x": wall_aim}
            v["wall_ok"] = v["wall_x_work_floor"] <= wall_aim
        if "peer" in cases:
            v["peer_cpu_ms_per_mail"] = 1000 * _cpu(cases["peer"]) / n
            v["cpu_x_peer"] = _cpu(m) / _cpu(cases["peer"])
            v["wall_x_peer"] = m["wall_s"] / cases["peer"]["wall_s"]
            v["below_peer_ok"] = v["cpu_x_peer"] < 1
        if "floor" in cases:
            f = cases["floor"]
            v |= {"wall_x_floor": m["wall_s"] / f["wall_s"], "cpu_x_floor": _cpu(m) / _cpu(f),
                  "rss_x_floor": m["peak_rss_mb"] / f["peak_rss_mb"]}
        out[case] = v
    return out


def human(res: dict[str, Any]) -> str:
    n = res["n"]
    ld = res["load"]
    st = res["startup"]
    smtp = {"sink": "an aiosmtpd sink (250 on receipt)",
            "relay": "SmtpRelay (delivers into Dovecot over LMTP before its 250)",
            "maildir": "none: mailproc writes a local Maildir"}[res["smtp"]]
    lines = [
        f"mailproc intake benchmark, {res['date']}, {res['machine']['cpus']} CPUs, "
        f"Python {res['machine']['python']}, Dovecot on 127.0.0.1 over {res['transport']}, "
        f"SMTP server: {smtp}",
        f"N = {n} mails ({ld['bytes'] / 1e6:.1f} MB; {ld['size_min_kb']:.1f} / "
        f"{ld['size_median_kb']:.1f} / {ld['size_max_kb']:.1f} KB min/median/max, "
        f"{ld['senders']} senders), the same copy in each case's INBOX",
        "",
        f"{'':<36}{'wall s':>8}{'wall ms':>9}{'CPU ms':>8}{'in-proc s':>10}{'start s':>8}"
        f"{'user+sys CPU s':>16}{'peak RSS':>10}{'sent':>7}",
        f"{'':<36}{'':>8}{'/mail':>9}{'/mail':>8}{'':>10}{'+import':>8}{'':>16}{'MB':>10}"
        f"{'':>7}",
    ]
    for key, label in LABELS.items():
        r = res["cases"].get(key)
        if r is None:
            continue
        sent = r.get("sent", r.get("delivered", ""))
        lines.append(
            f"{label:<36}{r['wall_s']:>8.2f}{1000 * r['wall_s'] / n:>9.2f}"
            f"{1000 * _cpu(r) / n:>8.2f}{r['work_s']:>10.2f}"
            f"{r['startup_s'] + r['import_s']:>8.2f}"
            f"{r['user_cpu_s']:>9.2f}+{r['sys_cpu_s']:<6.2f}{r['peak_rss_mb']:>10.1f}{sent:>7}")
    for case, v in verdicts(res).items():
        ok = {True: "ok", False: "MISSED"}
        parts = [f"CPU {v['cpu_ms_per_complaint']:.1f} ms/complaint (aim ≤ {v['cpu_aim_ms']:g}: "
                 f"{ok[v['cpu_ok']]})"]
        if "wall_x_work_floor" in v:
            parts.append(f"wall {v['wall_x_work_floor']:.2f}x the work floor (aim ≤ "
                         f"{v['wall_aim_x']:g}x: {ok[v['wall_ok']]}; CPU "
                         f"{v['cpu_x_work_floor']:.1f}x)")
        if "cpu_x_peer" in v:
            parts.append(f"CPU {v['cpu_x_peer']:.2f}x the peer's {v['peer_cpu_ms_per_mail']:.1f} "
                         f"ms/mail (aim < 1: {ok[v['below_peer_ok']]}; wall "
                         f"{v['wall_x_peer']:.2f}x)")
        parts.append(f"peak RSS {v['peak_rss_mb']:.0f} MB (aim ≤ {RSS_AIM_MB}: "
                     f"{ok[v['rss_ok']]})")
        if "wall_x_floor" in v:
            parts.append(f"vs the bare fetch: wall {v['wall_x_floor']:.1f}x, CPU "
                         f"{v['cpu_x_floor']:.1f}x, peak RSS {v['rss_x_floor']:.1f}x")
        lines += ["", f"{LABELS[case]}" + ("" if n == 1000 else f" (aims are for N = 1,000; "
                                           f"measured at N = {n})") + ":"]
        lines += [f"  {p}" for p in parts]
    lines.append("")
    if "floor" in res["cases"]:
        lines.append("floor runs: " + ", ".join(f"{x:.2f}s" for x in
                                                 res["cases"]["floor"]["runs_wall_s"])
                     + " (the fastest counts)")
    for case in ("forms-off", "default"):
        m = res["cases"].get(case)
        if m:
            lines.append(
                f"mailproc {case} did: {m['registered']} registered, {m['sent']} outgoing mails "
                f"({m['delivered']} accepted by the SMTP server)"
                f"{'' if res['smtp'] != 'maildir' else ' written to a local Maildir'}, "
                f"{m['processed_folder']} moved to Processed; poll loop "
                f"{m['summary_seconds']:.2f}s, the rest is start-up, imports and the outbox flush"
                + ("; PROFILED (cProfile slows it down)" if m["profiled"] else "")
                + ("; with --breakdown timers" if m["breakdown_on"] else ""))
    p = res["cases"].get("peer")
    if p:
        lines.append(
            f"peer did: {p['tickets']} tickets, {p['delivered']} mails sent "
            f"({p['acknowledged_senders']} acknowledgements, {p['notices']} notices to "
            f"new_ticket_cc), one SMTP connection per mail, INBOX left {p['inbox_left']}")
    lines.append(f"start-up: python {st['python_s']:.3f}s, import imap_tools "
                 f"{st['import_imap_tools_s']:.3f}s, import mailproc.cli "
                 f"{st['import_mailproc_cli_s']:.3f}s")
    for case in ("forms-off", "default"):
        m = res["cases"].get(case)
        if m and m.get("breakdown"):
            lines += ["", f"inside the mailproc poll process, {case} ({m['work_s']:.2f}s after "
                          "imports; inclusive wall time, nested rows overlap):",
                      f"  {'':<62}{'calls':>7}{'s':>8}{'ms/mail':>9}{'%':>6}"]
            for label, b in m["breakdown"].items():
                lines.append(f"  {label:<62}{b['calls']:>7}{b['seconds']:>8.2f}"
                             f"{1000 * b['seconds'] / n:>9.2f}"
                             f"{100 * b['seconds'] / m['work_s']:>6.1f}")
    if "keep" in res:
        k = res["keep"]
        lines += ["", f"keep-in-place idle poll, INBOX of {k['messages']} mails already marked "
                      f"{KEYWORD} (Dovecot first SELECT {k['dovecot_first_select_s']:.2f}s):"]
        for name in ("poll1", "poll2"):
            p = k[name]
            pos = p["position_before"]
            note = (f"stored position uidvalidity {pos['uidvalidity']}, last_uid "
                    f"{pos['last_uid']}" if pos else "no stored position")
            ok = "ok" if p["wall_s"] < KEEP_AIM_SECONDS else "OVER"
            lines.append(
                f"  {name} ({note}): {p['wall_s']:.3f}s wall [{ok} vs {KEEP_AIM_SECONDS:g}s], "
                f"{p['work_s']:.3f}s in process, poll loop {p['summary_seconds']:.3f}s, "
                f"start-up+import {p['startup_s'] + p['import_s']:.3f}s, "
                f"peak RSS {p['peak_rss_mb']:.0f} MB")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="complaint mails to process")
    p.add_argument("--cases", default=",".join(CASES),
                   help=f"comma-separated, any of {', '.join(CASES)} (default: all). work-floor "
                        "replays the mail of each mailproc case that runs")
    p.add_argument("--smtp", choices=("sink", "relay", "maildir"), default="sink",
                   help="where mailproc's outgoing mail goes: an aiosmtpd sink (default), "
                        "tests/servers.py's SmtpRelay (delivers into Dovecot over LMTP), or "
                        "a local Maildir (no SMTP; no work floor then)")
    p.add_argument("--keep-inbox", type=int, default=20000,
                   help="size of the already-processed INBOX for the keep-mode poll (0: skip)")
    p.add_argument("--json", action="store_true",
                   help="print every figure as one JSON object on stdout (summary to stderr)")
    p.add_argument("--tls", action="store_true", help="IMAPS instead of plain IMAP, all cases")
    p.add_argument("--profile", metavar="PATH",
                   help="run the mailproc poll under cProfile and write the stats to PATH "
                        "(PATH-forms-off / PATH-default when both run)")
    p.add_argument("--breakdown", action="store_true",
                   help="time mailproc's main steps inside the poll process (inclusive wall "
                        "time per function; adds a few microseconds per call)")
    p.add_argument("--seed", type=int, default=20261125)
    p.add_argument("--no-forms", action="store_true",
                   help="shorthand: the forms-off case instead of the default configuration "
                        "(documents.issue_on_registration and return_form_on_registration off)")
    p.add_argument("--peer-venv", type=Path, default=None,
                   help="the django-helpdesk venv (default ~/.cache/mailproc-bench/peer-venv; "
                        "created on first use)")
    p.add_argument("--peer-ack-only", action="store_true",
                   help="the peer sends the acknowledgement only (no new_ticket_cc notice)")
    p.add_argument("--keep-workdir", action="store_true", help="leave the temp dir for a look")
    args = p.parse_args()
    if args.n < 1:
        p.error("--n must be at least 1")
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown or not cases:
        p.error(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    if args.no_forms:
        cases = [c for c in cases if c != "default"]
        if "forms-off" not in cases:
            cases.append("forms-off")
    if "work-floor" in cases and args.smtp == "maildir":
        p.error("the work floor sends over SMTP: use --smtp sink or relay, or drop work-floor")
    if "work-floor" in cases and not {"forms-off", "default"} & set(cases):
        p.error("work-floor replays a mailproc case's mail: add forms-off or default")
    args.cases = cases
    if args.peer_venv is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import peer as peer_mod

        args.peer_venv = peer_mod.DEFAULT_VENV

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    work = Path(tempfile.mkdtemp(prefix="mailproc-bench-"))
    try:
        res = bench(args, work)
    except KeyboardInterrupt:
        log("interrupted")
        raise SystemExit(130) from None
    finally:
        if args.keep_workdir:
            log(f"work dir kept: {work}")
        else:
            with contextlib.suppress(OSError):
                shutil.rmtree(work)
    res["verdicts"] = verdicts(res)
    text = human(res)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(res, indent=2))
    else:
        print(text)


if __name__ == "__main__":
    main()
