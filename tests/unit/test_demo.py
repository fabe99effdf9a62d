"""The README's first command, on a copy of the checkout: `mailproc demo` sets up the embedded
default and runs one full cycle; running it again changes nothing."""

from __future__ import annotations

import mailbox
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_on_a_fresh_checkout(tmp_path: Path):
    for name in ("config", "examples", "doc_templates"):
        shutil.copytree(REPO / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("mailproc.toml"))
    cmd = [sys.executable, "-m", "mailproc", "demo"]
    first = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "created config/mailproc.toml" in first.stdout
    assert first.stdout.count("registered ") == 5
    # 5 acknowledgements, 5 notices, 4 PTPP forms to departments, 2 return-claim forms
    assert "sent 16" in first.stdout
    sent = mailbox.Maildir(str(tmp_path / "var" / "sent"), create=False)
    subjects = sorted(m["Subject"] for m in sent)
    assert sum("Keluhan Anda telah kami terima" in s for s in subjects) == 5
    assert len(list((tmp_path / "var" / "inbox" / ".Processed" / "cur").iterdir())) == 6

    second = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "registered" not in second.stdout and "nothing new" in second.stdout
    assert len(mailbox.Maildir(str(tmp_path / "var" / "sent"), create=False)) == 16
