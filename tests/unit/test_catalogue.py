"""The template catalogue: the shipped templates, template_fields and check_template."""

from __future__ import annotations

import sys
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docfill import (  # noqa: E402
    NS,
    W,
    edit_part,
    part,
    visible_text,
)

from mailproc.domain import forms  # noqa: E402
from mailproc.forms.catalogue import check_template, template_fields  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PTPP = REPO / "doc_templates" / "ptpp.docx"
RETUR = REPO / "doc_templates" / "retur.docx"


# ---- the templates ------------------------------------------------------------------------


def test_shipped_templates_pass_their_own_check() -> None:
    assert check_template(PTPP, "ptpp") == []
    assert check_template(RETUR, "retur") == []
    assert check_template(PTPP.read_bytes(), "ptpp") == []


def test_every_fillable_control_is_well_formed() -> None:
    for path, form in ((PTPP, "ptpp"), (RETUR, "retur")):
        root = part(path.read_bytes())
        specs = forms.field_map(form)
        sdts = root.findall(".//w:sdt", NS)
        assert len(sdts) == len(specs)
        for sdt in sdts:
            pr = sdt.find("w:sdtPr", NS)
            tag = pr.find("w:tag", NS).get(f"{{{W}}}val")
            assert pr.find("w:alias", NS).get(f"{{{W}}}val") == tag
            assert pr.find("w:lock", NS).get(f"{{{W}}}val") == "sdtLocked"
            spec = specs[tag]
            if spec.kind == "date":
                assert pr.find("w:date/w:dateFormat", NS).get(f"{{{W}}}val") == "dd/MM/yyyy"
                assert pr.find("w:date/w:lid", NS).get(f"{{{W}}}val") == "id-ID"
            elif spec.kind == "dropdown":
                items = [i.get(f"{{{W}}}displayText")
                         for i in pr.findall("w:dropDownList/w:listItem", NS)]
                assert tuple(items) == spec.options
            elif spec.kind == "checkbox":
                assert pr.find("w14:checkbox/w14:checked", NS) is not None
            else:
                assert pr.find("w:text", NS) is not None
            prefilled = "{{" in visible_text(sdt)
            if spec.kind != "checkbox" and not prefilled:
                assert pr.find("w:showingPlcHdr", NS) is not None, tag


def test_template_fields_lists_every_control_in_order() -> None:
    fields = template_fields(PTPP)
    assert [tag for tag, _ in fields] == [s.name for s in forms.PTPP_FIELDS]
    kinds = dict(fields)
    assert kinds["correction_date"] == "date"
    assert kinds["category_6m"] == "dropdown"
    assert kinds["source_customer_complaint"] == "checkbox"
    assert kinds["ptpp_number"] == "text"
    assert [tag for tag, _ in template_fields(RETUR)] == [s.name for s in forms.RETURN_FIELDS]


def test_check_template_reports_a_missing_field_and_bad_controls(tmp_path: Path) -> None:
    def drop_root_cause(xml: bytes) -> bytes:
        root = etree.fromstring(xml)
        for sdt in root.iter(f"{{{W}}}sdt"):
            if sdt.find("w:sdtPr/w:tag", NS).get(f"{{{W}}}val") == "root_cause":
                sdt.getparent().remove(sdt)
            elif sdt.find("w:sdtPr/w:tag", NS).get(f"{{{W}}}val") == "verifier":
                sdt.find("w:sdtPr/w:alias", NS).set(f"{{{W}}}val", "Verifikator")
            elif sdt.find("w:sdtPr/w:tag", NS).get(f"{{{W}}}val") == "completion_date":
                pr = sdt.find("w:sdtPr", NS)
                pr.remove(pr.find("w:date", NS))
                etree.SubElement(pr, f"{{{W}}}text")
        return etree.tostring(root)

    broken = tmp_path / "ptpp.docx"
    broken.write_bytes(edit_part(PTPP.read_bytes(), "word/document.xml", drop_root_cause))
    assert check_template(broken, "ptpp") == [
        "ptpp.docx: control tag 'verifier' differs from its alias 'Verifikator'",
        "ptpp.docx: field 'root_cause' (Akar penyebab, required for step plan, implement) "
        "is missing",
        "ptpp.docx: field 'completion_date' (Tanggal selesai aktual) should be a date "
        "control, found text",
    ]
    # The PTPP template is not a return-claim template.
    problems = check_template(PTPP, "retur")
    assert "ptpp.docx: field 'claim_number' (No. Klaim, required for step claim) is missing" \
        in problems


def test_check_template_reports_render_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_bytes(edit_part(PTPP.read_bytes(), "word/document.xml",
                              lambda x: x.replace(b"{{ customer }}", b"{{ customer }")))
    [problem] = check_template(bad, "ptpp")
    assert problem.startswith("bad.docx: cannot be rendered: bad.docx: template error:")
    [problem] = check_template(tmp_path / "missing.docx", "ptpp")
    assert "form template not found" in problem
    [problem] = check_template(b"not a docx", "ptpp")
    assert problem.startswith("template: cannot be rendered")
