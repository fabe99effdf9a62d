"""A mailproc installation on local Maildirs (no servers): for tests of the pipeline's logic.
Tests of the real mail path use tests/integration/conftest.py (Dovecot + SMTP)."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from testclock import TestClock

from mailproc.cli import Ctx, cli

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = REPO / "config" / "mailproc.example.toml"


def write_config(root: Path, *, extra: str = "", templates: Path | None = None) -> Path:
    """The example configuration with its paths pointed into `root` (templates: the packaged
    ones, or the folder `templates`)."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    # LibreOffice takes seconds a document: the PDF copies are tested where asked for
    # (tests/integration/test_pdf_copies.py), not in every test that closes a complaint.
    assert "pdf_copies = true" in text
    text = text.replace("pdf_copies = true", "pdf_copies = false")
    if templates is not None:
        line = '# templates = "templates"'
        assert line in text
        text = text.replace(line, f'templates = "{templates}"')
    config = root / "config" / "mailproc.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text + "\n" + extra, encoding="utf-8")
    return config


class LocalApp:
    def __init__(self, root: Path, extra: str = "", clock: TestClock | None = None,
                 templates: Path | None = None) -> None:
        self.root = root
        self.clock = clock or TestClock()
        self.config = write_config(root, extra=extra, templates=templates)
        assert self.run("init").exit_code == 0

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.config), *args], env=env,
                                  catch_exceptions=False, obj=Ctx(None, clock=self.clock))

    def deliver(self, raw: bytes) -> None:
        box = mailbox.Maildir(str(self.root / "var" / "inbox"), create=True)
        box.add(raw)

    def poll(self) -> dict[str, Any]:
        result = self.run("poll", "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def sent(self) -> list[mailbox.MaildirMessage]:
        box = mailbox.Maildir(str(self.root / "var" / "sent"), create=False)
        return [box[k] for k in sorted(box.keys(), key=lambda k: int(box[k]["X-Mailproc-Id"]))]

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)
