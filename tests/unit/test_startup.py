"""What a command loads at start-up: `mailproc --help`, `complaints list` and an idle poll do
not import the form renderer, the report writers, lxml or the other heavy modules (they cost
most of the start-up time: issue #11). Each check runs mailproc in a fresh interpreter and reads
its `sys.modules`, so it is about which modules load, never about how long that takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from appfixture import LocalApp

REPO = Path(__file__).resolve().parents[2]

# Needed only to render or read a Word form, write a report, fetch over IMAP, send by SMTP,
# sign in with OAuth, or open a PostgreSQL URL.
HEAVY = ("docxtpl", "docx", "matplotlib", "openpyxl", "jinja2", "lxml", "holidays",
         "playhouse.db_url", "playhouse.migrate", "mailproc.forms.render",
         "mailproc.reports.output", "mailproc.reports.jobs", "mailproc.forms.catalogue")
# ... and, for `--help`, everything past the command line itself.
NOT_FOR_HELP = HEAVY + (
    "peewee", "psycopg2", "imap_tools", "smtplib", "http.server", "webbrowser", "email.parser",
    "mailproc.config", "mailproc.store", "mailproc.oauth", "mailproc.intake.services",
    "mailproc.intake.mailbox", "mailproc.ptpp.workflow", "mailproc.outgoing.outbox",
    "mailproc.outgoing.transports", "mailproc.domain.forms")
# A command that only reads the database needs none of the mail and form machinery either.
NOT_FOR_A_LIST = HEAVY + (
    "imap_tools", "smtplib", "http.server", "webbrowser", "email.parser", "mailproc.oauth",
    "mailproc.intake.services", "mailproc.intake.mailbox", "mailproc.ptpp.workflow",
    "mailproc.outgoing.outbox", "mailproc.outgoing.transports")
# A poll signs in with a password or a stored token: no browser sign-in.
NOT_FOR_A_POLL = HEAVY + ("http.server", "webbrowser")

MARK = "modules loaded: "


def loaded(code: str, cwd: Path) -> set[str]:
    """The modules a fresh interpreter has after running `code`, which may run the CLI (its
    exit is caught); `code`'s own output is ignored."""
    program = (f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
               f"print({MARK!r} + __import__('json').dumps(sorted(sys.modules)))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILPROC_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-c", program], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [line] = [x for x in done.stdout.splitlines() if x.startswith(MARK)]
    return set(json.loads(line[len(MARK):]))


def run_cli(*args: str) -> str:
    return f"sys.argv = ['mailproc', *{list(args)!r}]; from mailproc.cli import main; main()"


def test_importing_the_cli_loads_only_the_command_line(tmp_path: Path):
    modules = loaded("import mailproc.cli", tmp_path)
    assert "mailproc.cli.complaints" in modules  # the check sees what was imported
    assert sorted(m for m in NOT_FOR_HELP if m in modules) == []


def test_help_loads_only_the_command_line(tmp_path: Path):
    for args in (("--help",), ("complaints", "--help"), ("auth", "login", "--help")):
        modules = loaded(run_cli(*args), tmp_path)
        assert sorted(m for m in NOT_FOR_HELP if m in modules) == [], args


def test_complaints_list_loads_the_store_but_no_form_report_or_mail_module(tmp_path: Path):
    app = LocalApp(tmp_path)
    modules = loaded(run_cli("--config", str(app.config), "complaints", "list", "--json"),
                     tmp_path)
    assert "mailproc.store.readmodels" in modules  # it did list
    assert sorted(m for m in NOT_FOR_A_LIST if m in modules) == []


def test_an_idle_poll_loads_no_form_report_or_browser_module(tmp_path: Path):
    app = LocalApp(tmp_path)
    modules = loaded(run_cli("--config", str(app.config), "poll", "--json"), tmp_path)
    assert "mailproc.intake.polling" in modules  # it did poll
    # No mail came: the mail pipeline (parsing, forms, outbox rows) was not loaded.
    assert "mailproc.intake.services" not in modules and "mailproc.intake.parse" not in modules
    assert sorted(m for m in NOT_FOR_A_POLL if m in modules) == []


def test_the_oauth_provider_choices_of_the_cli_are_the_providers():
    from mailproc import oauth
    from mailproc.cli.admin import OAUTH_PROVIDERS

    assert tuple(sorted(oauth.PROVIDERS)) == OAUTH_PROVIDERS
