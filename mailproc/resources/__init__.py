"""The files mailproc ships besides its code: the default form templates and mail texts, the
example configuration and the demo's sample complaints.

In a wheel they are package data under this folder (pyproject.toml maps them there from the
checkout's top-level `doc_templates/`, `config/` and `examples/inbox/`); in a checkout, editable
install or not, they are read where they live. Only paths are handed out: nothing here reads a
file, and a company's own templates are a folder named by `paths.templates`, never these.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
_CHECKOUT = _HERE.parent.parent

# name → (folder inside this package in a wheel, folder in a checkout)
_PLACES = {
    "templates": (_HERE / "templates", _CHECKOUT / "doc_templates"),
    "config": (_HERE / "config", _CHECKOUT / "config"),
    "examples": (_HERE / "examples", _CHECKOUT / "examples" / "inbox"),
}


def locate(name: str) -> Path:
    """The folder of packaged resource `name` ('templates', 'config' or 'examples')."""
    packaged, checkout = _PLACES[name]
    if packaged.is_dir():
        return packaged
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"mailproc's packaged {name} are missing from {packaged}: reinstall mailproc "
        "(pip install --force-reinstall mailproc)")


def templates_dir() -> Path:
    """The default form templates (ptpp.docx, retur.docx, closure.docx, recap.docx) and mail
    texts (email/)."""
    return locate("templates")


def example_config() -> Path:
    return locate("config") / "mailproc.example.toml"


def examples_dir() -> Path:
    """The demo's sample complaint mails (.eml)."""
    return locate("examples")
