"""What every command module shares: the `cli` group and its error handling (`MailprocGroup`),
the context `Ctx` (settings, clock, the App), and small helpers for output and the outbox.

Commands live in the modules next to this one; this module registers none, and it never
queries the database (the read models of mailproc.store do). Every command module is imported
for `mailproc --help`, so they import the store, the services and the adapters inside the
commands that use them, and only what the command line itself needs at the top.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from mailproc import logsetup
from mailproc.bootstrap import Clock, build_app, system_clock
from mailproc.errors import MailprocError, explain_os_error

if TYPE_CHECKING:
    from mailproc.bootstrap import App
    from mailproc.config import Settings
    from mailproc.outgoing.outbox import FlushResult

log = logging.getLogger("mailproc")


class Ctx:
    """What every command shares. `clock` is the composition root's clock: the system clock,
    or one a caller passes in (`CliRunner().invoke(cli, args, obj=Ctx(None, clock=...))`,
    how the tests run mailproc on a date of their choosing)."""

    def __init__(self, config: str | None, clock: Clock | None = None) -> None:
        self.config_arg = config
        self.clock: Clock = clock or system_clock
        self.debug = False
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from mailproc.config import config_path_from, load_settings  # not for --help

            self._settings = load_settings(config_path_from(self.config_arg, os.environ))
            logsetup.configure(self._settings.log_format, self._settings.log_level)
        return self._settings

    def app(self, *, need_schema: bool = True) -> App:
        from mailproc import store  # peewee: only for commands that open the database

        settings = self.settings
        store.open_database(settings.database_url, source=settings.source("database.url"))
        if need_schema:
            store.check_schema()
        return build_app(settings, clock=self.clock)


pass_ctx = click.make_pass_decorator(Ctx)


def debugging(ctx: click.Context | None = None) -> bool:
    """--debug, or MAILPROC_DEBUG=1: show tracebacks instead of one-line errors."""
    if os.environ.get("MAILPROC_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    obj = ctx.obj if ctx is not None else None
    return bool(getattr(obj, "debug", False))


def explain(exc: BaseException) -> str | None:
    """One line with what to do, for failures a user can cause outside mailproc's own checks
    (a full disk, a file mailproc may not read, a database locked or out of reach); None for
    a bug."""
    # imported already by any command that uses the database
    from mailproc.store import explain_disk_full, explain_unavailable

    return explain_os_error(exc) or explain_disk_full(exc) or explain_unavailable(exc)


class MailprocGroup(click.Group):
    """Turns every error into one line that says what to do, and its exit code: MailprocError
    (exit_code), a full disk or a permission problem (1), anything else (1, "a bug": run
    with --debug for the traceback). --debug / MAILPROC_DEBUG=1 lets the traceback through."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MailprocError as exc:
            if debugging(ctx):
                raise
            click.echo(f"mailproc: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debugging(ctx):
                raise
            log.debug("unexpected error", exc_info=True)
            known = explain(exc)
            if known is None:
                known = (f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]}; "
                         "this is a bug in mailproc: run the command again with --debug and "
                         "report the traceback")
            click.echo(f"mailproc: error: {known}", err=True)
            ctx.exit(1)


@click.group(cls=MailprocGroup)
@click.option("--config", "config", metavar="PATH", envvar="MAILPROC_CONFIG",
              help="Configuration file (default config/mailproc.toml; env MAILPROC_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
@click.option("--debug", is_flag=True,
              help="Show the traceback of an error instead of one line (env MAILPROC_DEBUG=1).")
@click.version_option(package_name="mailproc")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool, debug: bool) -> None:
    """mailproc: the customer-complaint (PTPP) procedure, run by email."""
    # JSON from the start when the environment asks; [logging] applies once settings load.
    early = os.environ.get("MAILPROC_LOG_FORMAT", "").strip().lower()
    logsetup.configure(early if early in logsetup.FORMATS else "text",
                       logging.DEBUG if verbose else logging.INFO)
    given = ctx.obj if isinstance(ctx.obj, Ctx) else None
    ctx.obj = Ctx(config, clock=given.clock if given else None)
    ctx.obj.debug = debug


def iso(value: datetime | None) -> str | None:
    """A time for --json: ISO 8601 in UTC, or None."""
    from mailproc.store import aware  # loaded already: the times come from the database

    value = aware(value)
    return value.isoformat() if value else None


def local_time(settings: Settings, value: datetime | None) -> str:
    """A time for people: company-local, to the minute; "-" for none."""
    from mailproc.store import aware  # loaded already: the times come from the database

    value = aware(value)
    return value.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M") if value else "-"


def emit_json(data: Any) -> None:
    """Print --json output: indented, non-ASCII kept as is."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def progress_printer(what: str = "surat diproses") -> Callable[[int, int], None] | None:
    """A progress line on stderr for long runs, when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None  # quiet in logs and pipes

    def show(done: int, total: int) -> None:
        if total >= 20 and (done % 10 == 0 or done == total):
            click.echo(f"\r  {done}/{total} {what}", err=True, nl=done == total)
    return show


def flush_outbox(app: App) -> FlushResult:
    """Send what is queued and due (`App.flush_outbox`): what commands call after a step."""
    return app.flush_outbox()


def operator(by: str | None) -> str:
    """The operator named in the audit trail: --by, else the OS user."""
    return by or getpass.getuser()
