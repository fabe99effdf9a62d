"""mailproc as a company installs it: the wheel (not an editable checkout) in a fresh venv,
driven from folders outside the checkout, with the configuration in yet another folder."""

from __future__ import annotations

import json
import mailbox
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(argv: list[str | Path], cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MAILPROC_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, **kw)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, REPO],
                 cwd=out)
    assert built.returncode == 0, built.stderr
    return next(out.glob("mailproc-*.whl"))


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh venv with the wheel installed. Its dependencies come from this interpreter's
    site-packages (--system-site-packages), which saves downloading matplotlib again; the
    venv's own site-packages comes first on sys.path, so its mailproc is the wheel's."""
    home = tmp_path_factory.mktemp("venv")
    made = _run([sys.executable, "-m", "venv", "--system-site-packages", home], cwd=home)
    assert made.returncode == 0, made.stderr
    pip = _run([home / "bin" / "python", "-m", "pip", "install", "--no-deps", "-q", wheel],
               cwd=home)
    assert pip.returncode == 0, pip.stderr
    return home


def test_the_wheel_carries_templates_mail_texts_example_config_and_samples(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"mailproc/resources/templates/{n}.docx"
               for n in ("ptpp", "retur", "closure", "recap")}
    shipped |= {f"mailproc/resources/templates/email/{p.name}"
                for p in (REPO / "doc_templates" / "email").iterdir()}
    shipped |= {"mailproc/resources/config/mailproc.example.toml"}
    shipped |= {f"mailproc/resources/examples/{p.name}"
                for p in (REPO / "examples" / "inbox").glob("*.eml")}
    shipped |= {p.relative_to(REPO).as_posix() for folder in ("templates", "static")
                for p in (REPO / "mailproc" / "web" / folder).iterdir()}
    assert shipped <= names, sorted(shipped - names)
    # Every module of the source tree is in the wheel (a new subpackage must be listed in
    # pyproject.toml's packages).
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "mailproc").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    assert not any(n.startswith("mailproc/resources/templates/tools/") for n in names)


def test_installed_mailproc_runs_outside_the_checkout(venv: Path, tmp_path: Path):
    mailproc = venv / "bin" / "mailproc"
    python = venv / "bin" / "python"
    where = _run([python, "-c", "import mailproc, mailproc.resources as r; "
                                "print(mailproc.__file__); print(r.templates_dir())"],
                 cwd=tmp_path)
    module, templates = where.stdout.split()
    assert module.startswith(str(venv)) and templates.startswith(str(venv)), where.stdout

    etc, work = tmp_path / "etc" / "mailproc", tmp_path / "work"
    work.mkdir()
    config = etc / "mailproc.toml"
    init = _run([mailproc, "init", "--config", config], cwd=work)
    assert init.returncode == 0, init.stderr
    assert "starter configuration" in init.stdout and config.exists()
    # Relative paths resolve against the configuration's folder, not the working folder.
    assert (etc / "var" / "mailproc.db").exists() and (etc / "archive").is_dir()
    assert list(work.iterdir()) == []

    check = _run([mailproc, "--config", config, "templates", "check"], cwd=work)
    assert check.returncode == 0, check.stdout + check.stderr
    assert str(venv) in check.stdout and str(REPO) not in check.stdout

    sample = (REPO / "examples" / "inbox" / "01-botol-retak.eml").read_bytes()
    mailbox.Maildir(str(etc / "var" / "inbox"), create=False).add(sample)
    poll = _run([mailproc, "--config", config, "poll", "--json"], cwd=work)
    assert poll.returncode == 0, poll.stderr
    summary = json.loads(poll.stdout)
    assert summary["outcomes"] == {"complaint": 1} and len(summary["registered"]) == 1
    assert summary["sent"] >= 2 and summary["failed"] == 0
    forms = list((etc / "archive").rglob("PTPP-*.docx"))
    assert len(forms) == 1  # rendered from the packaged template
    assert list(work.iterdir()) == []

    exported = tmp_path / "templates"
    out = _run([mailproc, "templates", "export", exported], cwd=work)
    assert out.returncode == 0, out.stderr
    assert (exported / "ptpp.docx").read_bytes() == (REPO / "doc_templates" / "ptpp.docx"
                                                     ).read_bytes()
    assert (exported / "email" / "ack_customer.txt").exists()
    again = _run([mailproc, "templates", "export", exported], cwd=work)
    assert again.returncode == 1 and "--force" in again.stderr


def test_demo_from_the_wheel_in_an_empty_folder(venv: Path, tmp_path: Path):
    demo = _run([venv / "bin" / "mailproc", "demo"], cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "seeded 6 sample mails" in demo.stdout
    listed = _run([venv / "bin" / "mailproc", "complaints", "list", "--json"], cwd=tmp_path)
    assert len(json.loads(listed.stdout)) >= 4
