"""The return claim to its end (issue #13, item 6; form BKI.FM.MKT.06): after the customer's
claim form is received, QC / the warehouse inspect the goods, marketing administration decides
(approved, or rejected with the reason), and an approved claim is settled (replacement, credit
note, refund …, with its reference). Pure: the state comes in and goes out as a value."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

# The settlements of the form's dropdown (forms.CLAIM_SETTLEMENTS), by the key a person types.
SETTLEMENTS = {
    "ganti-barang": "Ganti barang", "nota-kredit": "Nota kredit",
    "potong-tagihan": "Potong tagihan", "refund": "Refund",
    "klaim-ekspedisi": "Klaim ke ekspedisi",
}
# A settlement that moves money or paper has a document number to quote.
NEEDS_REFERENCE = frozenset({"nota-kredit", "potong-tagihan", "refund", "klaim-ekspedisi"})


class ReturnError(ValueError):
    def __init__(self, message: str, id_message: str) -> None:
        super().__init__(message)
        self.id_message = id_message


@dataclass(frozen=True)
class ReturnState:
    inspection: str = ""  # what QC / the warehouse found
    decision: str = ""  # '', 'approved' or 'rejected'
    reason: str = ""  # why (required when rejected)
    settlement: str = ""  # a SETTLEMENTS key
    reference: str = ""  # the credit note, refund … number

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ReturnState:
        data = json.loads(text or "{}")
        return cls(**{k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__})


def settlement_key(word: str) -> str | None:
    """'Nota kredit', 'nota-kredit', 'NOTA KREDIT' → 'nota-kredit'; None when unknown."""
    wanted = "-".join(word.lower().replace("_", " ").split())
    for key, label in SETTLEMENTS.items():
        if wanted in (key, "-".join(label.lower().split())):
            return key
    return None


def settlement_of(value: str) -> tuple[str, str] | None:
    """'Nota kredit NK-2612-004' → ('nota-kredit', 'NK-2612-004'): the settlement whose name
    the value starts with, and the rest as the reference."""
    text = " ".join(value.split())
    lowered = text.lower()
    for key, label in sorted(SETTLEMENTS.items(), key=lambda kv: -len(kv[1])):
        for name in (label.lower(), key.replace("-", " "), key):
            if lowered.startswith(name):
                return key, text[len(name):].strip(" :,-")
    return None


def inspect(state: ReturnState, result: str) -> ReturnState:
    result = result.strip()
    if not result:
        raise ReturnError("the inspection result is empty", "hasil pemeriksaan kosong")
    if state.settlement:
        raise ReturnError("the claim is settled already", "klaim retur sudah diselesaikan")
    return replace(state, inspection=result)


def decide(state: ReturnState, *, approved: bool, reason: str = "") -> ReturnState:
    reason = reason.strip()
    if not state.inspection:
        raise ReturnError(
            "record the inspection result first (`mailproc retur inspect`)",
            "hasil pemeriksaan barang belum dicatat (PEMERIKSAAN: <hasil>)")
    if state.settlement:
        raise ReturnError("the claim is settled already", "klaim retur sudah diselesaikan")
    if not approved and not reason:
        raise ReturnError("a rejected claim needs the reason (--reason)",
                          "klaim yang ditolak wajib disertai alasannya")
    return replace(state, decision="approved" if approved else "rejected", reason=reason)


def settle(state: ReturnState, kind: str, reference: str = "") -> ReturnState:
    key = settlement_key(kind)
    reference = reference.strip()
    if key is None:
        raise ReturnError(
            f"unknown settlement {kind!r}; use one of {', '.join(SETTLEMENTS)}",
            f"penyelesaian \"{kind}\" tidak dikenal; pilihan: "
            f"{', '.join(SETTLEMENTS.values())}")
    if state.decision != "approved":
        raise ReturnError("only an approved claim is settled",
                          "hanya klaim yang disetujui yang dapat diselesaikan")
    if key in NEEDS_REFERENCE and not reference:
        raise ReturnError(f"{SETTLEMENTS[key]} needs its document number (--reference)",
                          f"{SETTLEMENTS[key]} wajib disertai nomor dokumennya")
    return replace(state, settlement=key, reference=reference)


def register_text(claim_number: str, requested: bool, state: ReturnState) -> str:
    """The register's Retur column: 'T'; 'Y'; 'Y, KR-001'; 'Y, KR-001, disetujui: Nota kredit
    NK-12'; 'Y, KR-001, ditolak (alasan)'."""
    if not (requested or claim_number or state.inspection):
        return "T"
    parts = ["Y"] + ([claim_number] if claim_number else [])
    if state.decision == "rejected":
        parts.append(f"ditolak ({state.reason})")
    elif state.decision == "approved":
        done = (f": {SETTLEMENTS[state.settlement]} {state.reference}".rstrip()
                if state.settlement else ", belum diselesaikan")
        parts.append(f"disetujui{done}")
    elif state.inspection:
        parts.append("diperiksa")
    return ", ".join(parts)
