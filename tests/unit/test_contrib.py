"""contrib/: the systemd unit and the cron file name real mailproc commands and options."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailproc.cli import cli

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
BINARY = "/opt/mailproc/venv/bin/mailproc"


def cli_accepts(args: list[str]) -> None:
    """`mailproc ARGS --help` parses: every command and option in ARGS exists."""
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, f"mailproc {' '.join(args)}: {result.output}"
    assert "Usage: " in result.output


def after_binary(command: str) -> list[str]:
    argv = shlex.split(command)
    assert argv[0] == BINARY, command
    return argv[1:]


def test_systemd_unit():
    unit = configparser.ConfigParser(strict=True, interpolation=None, delimiters=("=",))
    unit.optionxform = str  # keys are case-sensitive
    unit.read(CONTRIB / "systemd" / "mailproc.service", encoding="utf-8")
    service = unit["Service"]
    assert service["Type"] == "simple"
    assert service["Restart"] == "on-failure" and int(service["RestartSec"]) > 0
    assert service["EnvironmentFile"] == "/etc/mailproc/mailproc.env"
    assert service["User"] == "mailproc" and service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert "/var/lib/mailproc" in service["ReadWritePaths"].split()
    assert service["StandardOutput"] == "journal"
    args = after_binary(service["ExecStart"])
    assert args[-1] == "run"
    cli_accepts(args)
    # The exit codes the unit does not restart on are the CLI's "configuration" and
    # "another instance" codes (cli.py's docstring).
    assert set(service["RestartPreventExitStatus"].split()) == {"2", "4"}
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_backup_service_and_timer():
    unit = configparser.ConfigParser(strict=True, interpolation=None, delimiters=("=",))
    unit.optionxform = str
    unit.read(CONTRIB / "systemd" / "mailproc-backup.service", encoding="utf-8")
    args = after_binary(unit["Service"]["ExecStart"])
    assert args[2] == "backup"
    assert args[3] in unit["Service"]["ReadWritePaths"].split()
    cli_accepts(args)
    timer = configparser.ConfigParser(strict=True, interpolation=None, delimiters=("=",))
    timer.read(CONTRIB / "systemd" / "mailproc-backup.timer", encoding="utf-8")
    assert timer["Timer"]["OnCalendar"]


def test_environment_example_names_only_known_variables():
    text = (CONTRIB / "systemd" / "mailproc.env.example").read_text(encoding="utf-8")
    names = re.findall(r"^#?(MAILPROC_[A-Z_]+)=", text, re.MULTILINE)
    assert {"MAILPROC_MAILBOX_PASSWORD", "MAILPROC_SMTP_PASSWORD",
            "MAILPROC_DATABASE_URL"} <= set(names)
    source = "".join(p.read_text(encoding="utf-8")
                     for p in (CONTRIB.parent / "mailproc").rglob("*.py"))
    for name in names:
        assert f'"{name}"' in source, f"{name} is not read anywhere in mailproc/"


def cron_commands() -> list[list[str]]:
    text = (CONTRIB / "cron" / "mailproc.cron").read_text(encoding="utf-8")
    found = re.findall(re.escape(BINARY) + r" ([^'\n]+)'", text)
    return [shlex.split(cmd) for cmd in found]


def test_cron_runs_the_loop_jobs_once_under_flock():
    text = (CONTRIB / "cron" / "mailproc.cron").read_text(encoding="utf-8")
    active = [line for line in text.splitlines() if line and line[0] in "0123456789*"]
    assert any("run --once" in line and "flock -n" in line and line.startswith("*/5 ")
               for line in active)
    assert all(line.split()[5] == "mailproc" for line in active)  # /etc/cron.d: a user field
    assert all("/etc/mailproc/mailproc.env" in line for line in active)


@pytest.mark.parametrize("args", cron_commands(), ids=lambda a: " ".join(a[2:]))
def test_every_cron_command_is_a_real_command(args: list[str]):
    assert args[:2] == ["--config", "/etc/mailproc/mailproc.toml"]
    cli_accepts(args)
