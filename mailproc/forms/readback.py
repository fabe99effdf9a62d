"""Reading a filled PTPP or return-claim form back: which form it is and the value of each
field, from bytes a sender mailed us.

``read_form`` opens the file through ``package.open_parts`` (type by magic bytes, zip limits,
no DTDs) and only then looks for the fields. Each field is found by the content control's tag,
else its alias, else by the label printed next to it (LibreOffice drops tags and some aliases
on save; a form can also reach us with its controls removed).

Must not validate the values (``domain.forms`` does), render, or touch mail, the database or
the configuration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailproc.domain import forms
from mailproc.domain.forms import FieldSpec
from mailproc.forms.package import (
    PLACEHOLDERS_NORM,
    SDT,
    SDT_CONTENT,
    SDT_PR,
    TBL,
    TC,
    TR,
    VAL,
    W14,
    Limits,
    P,
    control_kind,
    norm_text,
    open_parts,
    visible_text,
    w,
)

if TYPE_CHECKING:
    from lxml import etree

CHECKED_GLYPHS = "\u2612\u2611\u2713\u2714\u2717\u2718"  # ☒ ☑ ✓ ✔ ✗ ✘
UNCHECKED_GLYPHS = "\u2610"  # ☐
_FILLER = re.compile(r"[\s._\-\u2026\u2013\u2014]*")  # dotted lines count as empty


def _norm_label(text: str) -> str:
    """'No. PTPP :' -> 'no ptpp'; '(hints)' in a label are ignored."""
    text = re.sub(r"\([^)]*\)", " ", text.casefold())
    return " ".join(re.sub(r"[^\w]+", " ", text).split())



def _is_placeholder(text: str) -> bool:
    return not text or _FILLER.fullmatch(text) is not None or (
        norm_text(text) in PLACEHOLDERS_NORM)



def _checkbox_value(sdt: etree._Element) -> str:
    for checked in sdt.iter(f"{{{W14}}}checked"):
        val = (checked.get(f"{{{W14}}}val") or "1").lower()
        return "1" if val in ("1", "true", "on") else "0"
    text = visible_text(sdt.find(SDT_CONTENT) if sdt.find(SDT_CONTENT) is not None else sdt)
    return "1" if any(g in text for g in CHECKED_GLYPHS) else "0"


def _known_specs() -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for fields in forms.FORMS.values():
        for spec in fields:
            specs.setdefault(spec.name, spec)
    return specs


_SPECS = _known_specs()
_TABLE_FIELD = re.compile(r"(action|item)_\d+_\w+")
_LABELS = {_norm_label(s.label): s.name for s in _SPECS.values()
           if s.kind != forms.CHECKBOX and not _TABLE_FIELD.fullmatch(s.name)}
_BOX_LABELS = {_norm_label(s.label): s.name for s in _SPECS.values() if s.kind == forms.CHECKBOX}
_COLUMNS = {
    "action": {_norm_label(label): key for key, label in forms.ACTION_COLUMNS},
    "item": {_norm_label(label): key for key, label in forms.ITEM_COLUMNS},
}


def _row_cells(tr: etree._Element) -> list[etree._Element]:
    # Cells of a row, also those wrapped in a row-level content control.
    return [tc for tc in tr.iter(TC) if tc.getparent() is not None
            and _ancestor(tc, TR) is tr]


def _ancestor(el: etree._Element, tag: str) -> etree._Element | None:
    node = el.getparent()
    while node is not None and node.tag != tag:
        node = node.getparent()
    return node


def _table_columns(row: list[str]) -> tuple[str, dict[int, str]] | None:
    """A header row of the action or items table: (prefix, {cell index: column key})."""
    for prefix, columns in _COLUMNS.items():
        mapping = {i: columns[label] for i, label in enumerate(row) if label in columns}
        if len(mapping) >= 3:
            return prefix, mapping
    return None


def _grid_field(tr: etree._Element, index: int) -> str | None:
    """The action/items field of cell ``index`` in ``tr``: header row above + the row's No."""
    tbl = _ancestor(tr, TBL)
    if tbl is None:
        return None
    cells = _row_cells(tr)
    number = visible_text(cells[0]).strip() if cells else ""
    if not number.isdigit():
        return None
    rows = [r for r in tbl.iter(TR) if _ancestor(r, TBL) is tbl]
    for above in reversed(rows[:rows.index(tr)]):
        found = _table_columns([_norm_label(visible_text(c)) for c in _row_cells(above)])
        if found:
            prefix, mapping = found
            key = mapping.get(index)
            return f"{prefix}_{int(number)}_{key}" if key else None
    return None


def _label_after(sdt: etree._Element) -> str:
    """Text that follows a control in its paragraph, up to a tab or the next control."""
    parts: list[str] = []
    node = sdt
    while (node := node.getnext()) is not None:
        if node.tag == SDT:
            break
        text = visible_text(node) if node.tag != w("tab") else "\t"
        if "\t" in text:
            parts.append(text.split("\t")[0])
            break
        parts.append(text)
    return "".join(parts).split(":")[0]


def _infer_key(sdt: etree._Element, kind: str) -> str | None:
    """A control without tag or alias: the label printed next to it tells which field."""
    if kind == forms.CHECKBOX:
        return _BOX_LABELS.get(_norm_label(_label_after(sdt)))
    tc = _ancestor(sdt, TC)
    if tc is None:
        return None
    tr = _ancestor(tc, TR)
    cells = _row_cells(tr) if tr is not None else []
    if tc not in cells:
        return None
    index = cells.index(tc)
    if index > 0:
        name = _LABELS.get(_norm_label(visible_text(cells[index - 1])))
        if name:
            return name
    return _grid_field(tr, index)


@dataclass
class _Found:
    values: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, name: str, value: str, how: str) -> None:
        self.values.setdefault(name, []).append((value, how))


def _clean(text: str) -> str:
    text = text.strip()
    return "" if _is_placeholder(text) else text


def _read_controls(parts: list[etree._Element], found: _Found) -> None:
    consumed: set[etree._Element] = set()
    for root in parts:
        for sdt in root.iter(SDT):
            if sdt in consumed:
                continue
            pr = sdt.find(SDT_PR)
            if pr is None:
                continue
            tag = (pr.find(w("tag")).get(VAL, "") if pr.find(w("tag")) is not None else "")
            alias = (pr.find(w("alias")).get(VAL, "")
                     if pr.find(w("alias")) is not None else "")
            kind = control_kind(pr)
            boxes = [s for s in sdt.iter(SDT) if s.find(SDT_PR) is not None
                     and control_kind(s.find(SDT_PR)) == forms.CHECKBOX]
            if kind != forms.CHECKBOX and len(boxes) > 1:
                # LibreOffice 7.4 wraps a whole paragraph of checkboxes in one control that
                # carries one box's alias: not a field; the boxes inside are read one by one.
                continue
            if tag in _SPECS:
                name, how = tag, "tag"
            elif alias in _SPECS:
                name, how = alias, "alias"
            elif tag or alias:
                continue  # someone else's control
            else:
                inferred = _infer_key(sdt, forms.CHECKBOX if boxes else kind)
                if inferred is None:
                    continue
                name, how = inferred, "label"
            # Nested controls belong to this one (LibreOffice wraps a checkbox in another).
            consumed.update(s for s in sdt.iter(SDT) if s is not sdt)
            spec = _SPECS[name]
            content = sdt.find(SDT_CONTENT)
            if spec.kind == forms.CHECKBOX:
                value = _checkbox_value(sdt)
            elif pr.find(w("showingPlcHdr")) is not None or content is None:
                value = ""
            else:
                value = _clean(visible_text(content))
                date_el = pr.find(w("date"))
                full = date_el.get(w("fullDate")) if date_el is not None else None
                if value and full:
                    value = full[:10]
            found.add(name, value, how)


_GLYPH_LABEL = re.compile(
    f"([{CHECKED_GLYPHS}{UNCHECKED_GLYPHS}])[ \u00a0]*([^{CHECKED_GLYPHS}{UNCHECKED_GLYPHS}"
    r"\t\n:]+)")


def _read_labels(parts: list[etree._Element], found: _Found) -> None:
    """Fields no control gave: label cell -> value cell, action/items tables by their header
    row, checkboxes as a box glyph followed by its label."""
    def missing(name: str) -> bool:
        return name not in found.values

    for root in parts:
        for tbl in root.iter(TBL):
            columns: tuple[str, dict[int, str]] | None = None
            for tr in (r for r in tbl.iter(TR) if _ancestor(r, TBL) is tbl):
                cells = _row_cells(tr)
                texts = [visible_text(c) for c in cells]
                labels = [_norm_label(t) for t in texts]
                header = _table_columns(labels)
                if header:
                    columns = header
                    continue
                if columns and texts and texts[0].strip().isdigit():
                    prefix, mapping = columns
                    for i, key in mapping.items():
                        name = f"{prefix}_{int(texts[0].strip())}_{key}"
                        if i < len(texts) and name in _SPECS and missing(name):
                            found.add(name, _clean(texts[i]), "label")
                    continue
                columns = None  # the action / items rows ended
                for i in range(len(cells) - 1):
                    name = _LABELS.get(labels[i])
                    if name and missing(name):
                        found.add(name, _clean(texts[i + 1]), "label")
        for p in root.iter(P):
            text = visible_text(p)
            for m in _GLYPH_LABEL.finditer(text):
                name = _BOX_LABELS.get(_norm_label(m[2]))
                if name and missing(name):
                    found.add(name, "1" if m[1] in CHECKED_GLYPHS else "0", "label")


@dataclass(frozen=True)
class FilledForm:
    """What a returned form says. ``values`` holds every field of the recognised form ('' when
    empty, showing its placeholder, or absent from the document: ``how`` lacks those);
    checkboxes are '1' / '0'; dates as written, or YYYY-MM-DD from a date picker.
    ``form`` is None when the document has no field of either form: then ``values`` and
    ``how`` are empty. ``conflicts`` lists fields given twice with different values (the first
    non-empty one is in ``values``)."""

    form: str | None
    values: Mapping[str, str]
    how: Mapping[str, str]
    conflicts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _guess_form(names: set[str]) -> str | None:
    ptpp = {s.name for s in forms.PTPP_FIELDS}
    retur = {s.name for s in forms.RETURN_FIELDS}
    score_ptpp, score_retur = len(names & (ptpp - retur)), len(names & (retur - ptpp))
    if not score_ptpp and not score_retur:
        return None
    return "ptpp" if score_ptpp >= score_retur else "retur"


_DEFAULT_LIMITS = Limits()  # one frozen instance as the default


def read_form(content: bytes, *, limits: Limits = _DEFAULT_LIMITS,
              filename: str = "") -> FilledForm:
    """Read a returned PTPP or return-claim form. Raises UnsupportedDocument, MacroDocument,
    CorruptDocument or UnsafeDocument (each with an Indonesian ``reply_id``) when the bytes
    are not a safe, readable .docx; ``filename`` (the attachment's name) only sharpens that
    verdict when the bytes say nothing, e.g. a damaged 'x.docx' is corrupt, not unsupported.
    A .docx without any known field gives form=None with empty values."""
    parts = open_parts(content, limits, filename)
    found = _Found()
    _read_controls(parts, found)
    _read_labels(parts, found)
    form = _guess_form(set(found.values))
    if form is None:
        return FilledForm(None, {}, {})
    values: dict[str, str] = {}
    how: dict[str, str] = {}
    conflicts: dict[str, tuple[str, ...]] = {}
    for spec in forms.FORMS[form]:
        hits = found.values.get(spec.name)
        if not hits:
            values[spec.name] = ""
            continue
        filled = [(v, h) for v, h in hits if v and not (spec.kind == forms.CHECKBOX and v == "0")]
        value, how_found = filled[0] if filled else hits[0]
        values[spec.name], how[spec.name] = value, how_found
        distinct = tuple(dict.fromkeys(v for v, _ in filled))
        if len(distinct) > 1:
            conflicts[spec.name] = distinct
    return FilledForm(form, values, how, conflicts)

