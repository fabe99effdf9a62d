"""Decisions written in a reply by marketing administration: pure parsing of the reply's own
text (quoted original and signature removed) into decision lines.

Accepted lines, case-insensitive, one decision per line:
    BAGIAN: <department>            assign or reassign
    EFEKTIF: YA | EFEKTIF: TIDAK    the effectiveness verdict, with CATATAN: <evaluation note>
    TOLAK: <reason>                 not a complaint
    CATATAN: <text>                 a note on the record (the evaluation note after EFEKTIF)
    TANYA PELANGGAN: <question>     a question mailed to the customer in the complaint's thread
    KIRIM ANALISIS: YA | TIDAK      the customer asked (no longer asks) for the analysis and plan
    TANGGAPAN: <text>               a response already given to the customer by phone/in person
    KATEGORI: MAYOR | MINOR | OBSERVASI   the PTPP category
    LIBATKAN: <department>          involve another department (procedure step 6)
    PEMERIKSAAN: <result>           the return claim's inspection result
    KLAIM: DISETUJUI | KLAIM: DITOLAK, <reason>   the return claim's decision
    PENYELESAIAN: <kind> <reference>   how an approved claim was settled
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from mailproc.domain.returns import settlement_of
from mailproc.domain.states import severity_of


class Kind(StrEnum):
    ASSIGN = "BAGIAN"
    EFFECTIVE = "EFEKTIF"
    REJECT = "TOLAK"
    NOTE = "CATATAN"
    ASK_CUSTOMER = "TANYA PELANGGAN"
    SEND_ANALYSIS = "KIRIM ANALISIS"
    RESPONSE = "TANGGAPAN"
    SEVERITY = "KATEGORI"
    INVOLVE = "LIBATKAN"
    RETURN_INSPECTION = "PEMERIKSAAN"
    RETURN_DECISION = "KLAIM"
    RETURN_SETTLEMENT = "PENYELESAIAN"


ACCEPTED_HELP = (
    "BAGIAN: <nama bagian>  (menentukan atau mengganti bagian yang menangani)\n"
    "EFEKTIF: YA  atau  EFEKTIF: TIDAK, disertai CATATAN: <catatan evaluasi>\n"
    "TOLAK: <alasan>  (bukan keluhan)\n"
    "CATATAN: <catatan>  (catatan pada keluhan)\n"
    "TANYA PELANGGAN: <pertanyaan>  (dikirim ke pelanggan)\n"
    "KIRIM ANALISIS: YA  (pelanggan meminta hasil analisis dan rencana tindakan)\n"
    "TANGGAPAN: <tanggapan>  (tanggapan yang sudah diberikan lewat telepon/langsung)\n"
    "KATEGORI: MAYOR, MINOR atau OBSERVASI  (kategori PTPP)\n"
    "LIBATKAN: <nama bagian>  (bagian lain ikut menganalisis; formulir dan email dikirim)\n"
    "PEMERIKSAAN: <hasil pemeriksaan barang retur>\n"
    "KLAIM: DISETUJUI  atau  KLAIM: DITOLAK, <alasan>  (keputusan klaim retur)\n"
    "PENYELESAIAN: <Ganti barang / Nota kredit / Potong tagihan / Refund> <nomor dokumen>"
)

_KEYS = {k.value: k for k in Kind}
# "WORD:" or "TWO WORDS:" at the start of a line: something meant as a decision.
_COMMAND = re.compile(r"^\s*\*{0,2}([A-Za-z][A-Za-z ]{1,30}?)\*{0,2}\s*:\s*(.*)$")
_YES = {"ya", "y", "yes", "iya"}
_NO = {"tidak", "tdk", "no", "t", "bukan"}

# Where the quoted original starts, in the clients marketing administration uses.
_QUOTE_HEADERS = [
    re.compile(r"^\s*On .{4,200} wrote:\s*$", re.I),  # Gmail / Thunderbird (English)
    re.compile(r"^\s*Pada .{4,200} menulis:\s*$", re.I),  # Gmail (Indonesian)
    re.compile(r"^\s*-{2,}\s*(Original Message|Pesan Asli|Forwarded message)\s*-{2,}", re.I),
    re.compile(r"^\s*_{8,}\s*$"),  # Outlook's rule above the header block
]
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|Dari)\s*:\*?\s*\S", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Dikirim|Date|Tanggal|To|Kepada)\s*:", re.I)
_SIGNATURE = re.compile(r"^(-- ?|—)\s*$")


def own_text(text: str) -> str:
    """The part of a reply its sender wrote: quoted lines ('>'), the quoted original after
    "On … wrote:" / Outlook's From/Sent block, and the signature after '-- ' are dropped."""
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if any(p.match(line) for p in _QUOTE_HEADERS) or _SIGNATURE.match(line):
            break
        if _OUTLOOK_FROM.match(line) and any(
                _OUTLOOK_NEXT.match(nxt) for nxt in lines[i + 1:i + 4]):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


@dataclass(frozen=True)
class Decision:
    kind: Kind
    value: str
    note: str = ""  # for EFEKTIF: the CATATAN that goes with it


@dataclass(frozen=True)
class Parsed:
    decisions: tuple[Decision, ...] = ()
    unknown: tuple[str, ...] = ()  # command-like lines that are not accepted decisions
    problems: tuple[str, ...] = ()  # accepted words with a value that cannot be used
    seen: bool = False  # any command-like line at all

    @property
    def empty(self) -> bool:
        return not (self.decisions or self.unknown or self.problems)


def _yes_no(value: str) -> bool | None:
    word = value.strip().lower().rstrip(".!")
    return True if word in _YES else False if word in _NO else None


def parse(text: str) -> Parsed:
    """Decision lines of the sender's own text. Prose lines are ignored; a line that looks like
    a decision ('WORD: …') but is not one is reported as unknown."""
    decisions: list[Decision] = []
    unknown: list[str] = []
    problems: list[str] = []
    notes: list[str] = []
    verdict: tuple[bool, str] | None = None
    seen = False
    for line in own_text(text).split("\n"):
        m = _COMMAND.match(line)
        if not m:
            continue
        key = " ".join(m.group(1).split()).upper()
        value = m.group(2).strip()
        kind = _KEYS.get(key)
        if kind is None:
            # 'Re', 'Subject', 'Tel' … in a sentence are not decisions; only short
            # all-caps words are taken as attempted commands.
            if m.group(1).strip().isupper():
                seen = True
                unknown.append(line.strip())
            continue
        seen = True
        if kind == Kind.NOTE:
            notes.append(value)
            continue
        if not value:
            problems.append(f"{kind.value}: isinya kosong")
            continue
        if kind == Kind.EFFECTIVE:
            answer = _yes_no(value)
            if answer is None:
                problems.append(f"{kind.value}: tulis YA atau TIDAK (tertulis '{value}')")
                continue
            verdict = (answer, value)
            continue
        if kind == Kind.SEND_ANALYSIS:
            answer = _yes_no(value)
            if answer is None:
                problems.append(f"{kind.value}: tulis YA atau TIDAK (tertulis '{value}')")
                continue
            decisions.append(Decision(kind, "YA" if answer else "TIDAK"))
            continue
        if kind == Kind.SEVERITY:
            severity = severity_of(value)
            if severity is None:
                problems.append(f"{kind.value}: tulis MAYOR, MINOR atau OBSERVASI "
                                f"(tertulis '{value}')")
                continue
            decisions.append(Decision(kind, severity.value))
            continue
        if kind == Kind.RETURN_DECISION:
            word, _, reason = value.partition(",")
            claim = word.strip().lower().rstrip(".")
            if claim in ("disetujui", "setuju", "diterima", "ya"):
                decisions.append(Decision(kind, "DISETUJUI"))
            elif claim.split(" ", 1)[0] in ("ditolak", "tolak", "tidak"):
                reason = reason.strip() or word.strip().partition(" ")[2].strip()
                decisions.append(Decision(kind, "DITOLAK", reason))
            else:
                problems.append(f"{kind.value}: tulis DISETUJUI atau DITOLAK, <alasan> "
                                f"(tertulis '{value}')")
            continue
        if kind == Kind.RETURN_SETTLEMENT:
            found = settlement_of(value)
            if found is None:
                problems.append(f"{kind.value}: tulis Ganti barang, Nota kredit, Potong "
                                f"tagihan, Refund atau Klaim ke ekspedisi (tertulis '{value}')")
                continue
            decisions.append(Decision(kind, found[0], found[1]))
            continue
        decisions.append(Decision(kind, value))
    note = "\n".join(n for n in notes if n)
    if verdict is not None:
        decisions.append(Decision(Kind.EFFECTIVE, "YA" if verdict[0] else "TIDAK", note))
    elif note:
        decisions.append(Decision(Kind.NOTE, note))
    return Parsed(tuple(decisions), tuple(unknown), tuple(problems), seen)

