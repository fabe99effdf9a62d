"""`mailproc demo --reset` on a copy of the checkout: deletes what the demo made and runs it
again; refuses (deleting nothing) for anything that is not the demo set-up."""

from __future__ import annotations

import mailbox
import shutil
from pathlib import Path

import pytest
from appfixture import REPO, write_config
from click.testing import CliRunner

from mailproc.cli import cli
from mailproc.config import load_settings
from mailproc.ops import demo as demo_mod


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "checkout"
    for name in ("config", "examples", "doc_templates"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("mailproc.toml"))
    monkeypatch.chdir(root)
    return root


def demo(*args: str):
    return CliRunner().invoke(cli, ["demo", *args])


def test_reset_starts_the_demo_over(checkout: Path, tmp_path: Path):
    first = demo()
    assert first.exit_code == 0, first.output
    assert first.output.count("registered ") == 5
    (checkout / "archive" / "stray.txt").write_text("left by the first run")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the demo's")
    kept = {p: p.read_bytes() for d in ("config", "examples", "doc_templates")
            for p in (checkout / d).rglob("*") if p.is_file()}

    again = demo("--reset")
    assert again.exit_code == 0, again.output
    for name in ("var/mailproc.db", "var", "archive"):
        assert f"removed {checkout / name}\n" in again.output
    samples = len(list((checkout / "examples" / "inbox").glob("*.eml")))
    assert f"seeded {samples} sample mails" in again.output
    assert again.output.count("registered ") == 5 and "registered 001/PTPP/MKT/" in again.output
    assert not (checkout / "archive" / "stray.txt").exists()
    assert len(mailbox.Maildir(str(checkout / "var" / "sent"), create=False)) == 16
    assert outside.read_text() == "not the demo's"
    assert {p: p.read_bytes() for p in kept} == kept


def test_reset_refuses_a_configuration_that_is_not_the_demo(tmp_path: Path):
    # write_config: a config/mailproc.toml with no mailproc.example.toml next to it.
    config = write_config(tmp_path / "site")
    assert CliRunner().invoke(cli, ["--config", str(config), "init"]).exit_code == 0
    database = tmp_path / "site" / "var" / "mailproc.db"
    result = CliRunner().invoke(cli, ["--config", str(config), "demo", "--reset"])
    assert result.exit_code == 1 and "nothing was deleted" in result.output
    assert database.exists()


@pytest.mark.parametrize("old,new,words", [
    ('url = "maildir:var/sent"', 'url = "smtps://keluhan@mail.contoh.co.id"', "real mail"),
    ('archive = "archive"', 'archive = "{outside}"', "outside"),
    ('state = "var"', 'state = "."', "nothing was deleted"),
    ('archive = "archive"', 'archive = "config"', "holds the configuration"),
])
def test_reset_refuses_paths_that_are_not_the_demos(checkout: Path, tmp_path: Path,
                                                    old: str, new: str, words: str):
    config = checkout / "config" / "mailproc.toml"
    text = (checkout / "config" / "mailproc.example.toml").read_text()
    assert old in text
    config.write_text(text.replace(old, new.format(outside=tmp_path / "elsewhere"), 1))
    settings = load_settings(config, {})
    with pytest.raises(demo_mod.ResetRefused, match=words):
        demo_mod.reset_paths(settings)
    with pytest.raises(demo_mod.ResetRefused):
        demo_mod.reset_paths(load_settings(
            config, {"MAILPROC_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}"}))
