"""The template catalogue: which content controls a form template has (``template_fields``),
whether it serves its form (``check_template``), and plausible sample contexts to render it
with (``sample_context``), for `mailproc templates` and `mailproc doctor`.

Must not read senders' files (``readback``) or touch mail, the database or the configuration.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from mailproc.domain import forms
from mailproc.forms.package import (
    SDT,
    SDT_PR,
    VAL,
    DocumentError,
    Limits,
    TemplateProblem,
    control_kind,
    open_parts,
    w,
)
from mailproc.forms.render import render, template_name


def _template_parts(template: Path | bytes) -> list[etree._Element]:
    if isinstance(template, bytes | bytearray):
        data = bytes(template)
    else:
        path = Path(template)
        if not path.is_file():
            raise TemplateProblem(f"{path}: form template not found")
        data = path.read_bytes()
    try:
        return open_parts(data, Limits())
    except DocumentError as exc:
        raise TemplateProblem(f"{template_name(template)}: {exc}") from exc


def _controls(parts: list[etree._Element]) -> Iterator[tuple[str, str, str]]:
    for root in parts:
        for sdt in root.iter(SDT):
            pr = sdt.find(SDT_PR)
            if pr is None:
                continue
            tag = pr.find(w("tag"))
            alias = pr.find(w("alias"))
            yield ((tag.get(VAL, "") if tag is not None else ""),
                   (alias.get(VAL, "") if alias is not None else ""), control_kind(pr))


def template_fields(template: Path | bytes) -> list[tuple[str, str]]:
    """(tag, kind) of every content control in the template, in document order; kind is
    'text' | 'date' | 'dropdown' | 'checkbox' | 'richtext'; tag '' when it has none."""
    return [(tag, kind) for tag, _, kind in _controls(_template_parts(template))]


_PNG_1PX = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00"
            b"\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe"
            b"\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


def check_template(template: Path | bytes, form: str, *, strict: bool = False) -> list[str]:
    """Problems an administrator must fix in a form template, as English sentences; [] when
    it is fine. Renders it with sample_context(form) and checks that every field some step
    needs is a control of the right kind, and that every control has tag == alias. With
    ``strict``, a variable the sample context does not have is a problem too."""
    if form not in forms.FORMS:
        raise ValueError(f"unknown form {form!r}; expected one of {', '.join(forms.FORMS)}")
    name = template_name(template)
    problems: list[str] = []
    try:
        raw = template if isinstance(template, bytes | bytearray) else Path(template)
        rendered = render(raw, sample_context(form), images=[("contoh.png", _PNG_1PX)],
                          strict=strict)
        parts = open_parts(rendered, Limits())
    except (TemplateProblem, DocumentError) as exc:
        return [f"{name}: cannot be rendered: {exc}"]
    controls = list(_controls(parts))
    if controls and not any(tag for tag, _, _ in controls):
        problems.append(f"{name}: no content control has a tag; LibreOffice removes them when "
                        "it saves: edit the template in Microsoft Word")
    kinds: dict[str, str] = {}
    for tag, alias, kind in controls:
        if not tag and not alias:
            problems.append(f"{name}: a {kind} control has neither tag nor alias")
            continue
        if not tag:
            problems.append(f"{name}: control '{alias}' has an alias but no tag")
        elif tag != alias:
            problems.append(f"{name}: control tag '{tag}' differs from its alias '{alias}'")
        kinds.setdefault(tag or alias, kind)
    for spec in forms.FORMS[form]:
        if spec.name not in kinds:
            if spec.required_for:
                steps = ", ".join(s for s in forms.STEPS if s in spec.required_for)
                problems.append(f"{name}: field '{spec.name}' ({spec.label}, required for step "
                                f"{steps}) is missing")
        elif kinds[spec.name] != spec.kind and not (
                spec.kind == forms.TEXT and kinds[spec.name] == "richtext"):
            problems.append(f"{name}: field '{spec.name}' ({spec.label}) should be a "
                            f"{spec.kind} control, found {kinds[spec.name]}")
    return problems


def sample_context(form: str) -> dict[str, Any]:
    """A plausible render context for ``form`` (used by check_template and the demo)."""
    company = {"name": "PT Contoh Manufaktur Indonesia",
               "address": "Jl. Industri Raya No. 10, Cikarang, Bekasi 17530"}
    if form == "ptpp":
        return {
            "company": company,
            "doc": {"number": "FM-MR-15", "revision": "02", "revision_date": "18/09/2023"},
            "ptpp_number": "001/PTPP/MKT/XI/2026",
            "date": "25/11/2026",
            "to_department": "Quality Control",
            "from_issuer": "Administrasi Marketing",
            "reference": "KEL-2026-0001",
            "cycle": 2,
            "category_label": "Kualitas produk",
            "severity": "Mayor",
            "repeat_note": "Tidak",
            "customer": "PT Pelanggan Setia",
            "product": "Botol PET 600 ml",
            "batch": "LOT-2611-07",
            "quantity": "1.200 pcs",
            "invoice": "INV/2026/11/0456",
            "delivery_note": "SJ/2026/11/0789",
            "description": "Botol retak pada bagian leher saat proses pengisian.\n"
                           "Ditemukan 35 botol retak dari 1.200 pcs yang diterima.",
            "previous": {
                "cycle": 1,
                "number": "001/PTPP/MKT/XI/2026",
                "root_cause": "Suhu cetakan tidak stabil pada mesin blow molding 3.",
                "actions": [{"no": 1, "cause": "Suhu cetakan turun",
                             "corrective": "Kalibrasi pengendali suhu mesin 3",
                             "preventive": "Cek suhu tiap awal shift", "pic": "Supervisor Produksi",
                             "target": "05/11/2026"}],
                "verification_note": "Keluhan serupa terulang pada pengiriman berikutnya.",
            },
        }
    if form == "retur":
        return {
            "company": company,
            "doc": {"number": "BKI.FM.MKT.06", "revision": "00", "revision_date": "18/09/2023"},
            "claim_number": "001/RTR/MKT/XI/2026",
            "ptpp_number": "001/PTPP/MKT/XI/2026",
            "date": "25/11/2026",
            "customer": "PT Pelanggan Setia",
            "contact": "Budi Santoso (0812-3456-7890)",
            "po": "PO-7781",
            "delivery_note": "SJ/2026/11/0789",
            "invoice": "INV/2026/11/0456",
            "items": [{"name": "Botol PET 600 ml", "batch": "LOT-2611-07",
                       "qty_sent": "1.200", "qty_return": "35", "unit": "pcs"}],
            "description": "Botol retak pada bagian leher.",
        }
    raise ValueError(f"unknown form {form!r}; expected one of {', '.join(forms.FORMS)}")
