"""Setting up and looking after an installation: `init`, `demo`, `doctor`, `backup`,
`audit verify`, `mailproc templates` and `mailproc auth` (OAuth2). Everything beyond the
command line itself (the store, the forms, OAuth, the mailbox and transports, backup, doctor,
the scheduler) is imported inside the commands that need it: `--help` loads none of it."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailproc import resources
from mailproc.cli.base import Ctx, cli, emit_json, local_time, pass_ctx, progress_printer
from mailproc.cli.mailcmds import poll
from mailproc.errors import MailprocError

if TYPE_CHECKING:
    from mailproc.config import Settings

# ---- init / demo -------------------------------------------------------------------------

def _init(settings: Settings) -> int:
    from mailproc import store
    from mailproc.intake.mailbox import prepare_maildir
    from mailproc.outgoing import transports

    for folder in (settings.archive_dir, settings.state_dir):
        folder.mkdir(parents=True, exist_ok=True)
    if settings.database_url.startswith("sqlite:///") and ":memory:" not in settings.database_url:
        Path(settings.database_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    store.open_database(settings.database_url, source=settings.source("database.url"))
    version = store.init_schema(on_applied=lambda m: click.echo(
        f"applied schema migration {m.number}: {m.name}"))
    if settings.mailbox.kind == "maildir":
        prepare_maildir(settings.mailbox)
    if settings.smtp.kind == "maildir" and settings.smtp.path:
        transports.MaildirTransport(settings.smtp.path).close()
    return version


@cli.command()
@click.option("--config", "config_file", metavar="PATH",
              help="The configuration file; a starter one is written there when it does not "
                   "exist (same as the global --config).")
@click.option("--data", "data_dir", metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="For a new configuration: the folder of the database, archive and state "
                   "(default: the configuration file's folder).")
@pass_ctx
def init(obj: Ctx, config_file: str | None, data_dir: Path | None) -> None:
    """Create or migrate the database schema and the folders; safe to run again.

    When the configuration file does not exist yet, a starter one is written first (SQLite, a
    local Maildir inbox, outgoing mail into a Maildir, the packaged templates), with relative
    paths resolved against its folder or --data DIR; edit it, then run init again.

    Example: mailproc init --config /etc/mailproc/mailproc.toml --data /var/lib/mailproc
    """
    from mailproc.config import config_path_from

    if config_file:
        obj.config_arg = config_file
    path = config_path_from(obj.config_arg, os.environ)
    if not path.exists():
        _write_starter_config(path, data_dir)
    elif data_dir is not None:
        raise click.UsageError(f"--data is for a new configuration; {path} exists already (its "
                         "paths.root says where its data lives)")
    version = _init(obj.settings)
    click.echo(f"database ready (schema version {version}); archive: {obj.settings.archive_dir}")


def _write_starter_config(path: Path, data_dir: Path | None) -> None:
    from mailproc.config import starter_config

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = starter_config(resources.example_config().read_text(encoding="utf-8"),
                              data_dir.expanduser().resolve() if data_dir else None)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        return
    except OSError as exc:
        raise MailprocError(f"cannot write the configuration {path}: {exc.strerror}; choose "
                            "a folder you may write, or run as its owner") from None
    click.echo(f"wrote a starter configuration to {path}: set [company], [people], "
               "[departments], and [mailbox]/[smtp] (or MAILPROC_MAILBOX_URL / "
               "MAILPROC_SMTP_URL), then check it with `mailproc doctor`")


@cli.command()
@click.option("--examples", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None,
              help="Folder of .eml files seeded into the demo inbox (default: the sample "
                   "complaints mailproc ships).")
@click.option("--reset", is_flag=True,
              help="First delete the demo's database, var/ state, archive and Maildirs.")
@click.pass_context
def demo(ctx: click.Context, examples: Path | None, reset: bool) -> None:
    """Set up the embedded default and run one full cycle on the sample complaints.

    Uses config/mailproc.toml under the current folder, created from the example
    configuration when missing (SQLite, a Maildir inbox under var/, outgoing mail written to
    var/sent); works in a checkout and in any empty folder with mailproc installed.

    --reset deletes what the demo made (only the paths config/mailproc.toml names, and only
    for the demo set-up of a checkout) and runs it again from the start.

    Example: mailproc demo
    """
    obj: Ctx = ctx.obj
    if obj.config_arg is None:
        target = Path("config/mailproc.toml")
        if not target.exists():
            example = Path("config/mailproc.example.toml")
            if not example.exists():  # not a checkout: the example mailproc ships
                example.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(resources.example_config(), example)
            shutil.copyfile(example, target)
            click.echo(f"created {target} from {example}")
    settings = obj.settings
    if settings.mailbox.kind != "maildir":
        raise MailprocError("the demo seeds a local Maildir; point mailbox.url at maildir:PATH")
    if reset:
        from mailproc import store
        from mailproc.ops import demo as demo_mod
        from mailproc.ops.scheduler import instance_lock

        demo_mod.reset_paths(settings)  # refuses before the lock creates anything
        with instance_lock(settings.state_dir, settings.database_url):
            if store.db.obj is not None:
                store.db.close()  # a connection held on the file about to be deleted
            for path in demo_mod.reset(settings):
                click.echo(f"removed {path}")
    _init(settings)
    marker = settings.state_dir / "demo-seeded"
    if not marker.exists():
        import mailbox as stdlib_mailbox

        assert settings.mailbox.path is not None
        box = stdlib_mailbox.Maildir(str(settings.mailbox.path), create=True)
        files = sorted((examples or resources.examples_dir()).glob("*.eml"))
        for eml in files:
            box.add(eml.read_bytes())
        marker.write_text("seeded\n")
        click.echo(f"seeded {len(files)} sample mails into {settings.mailbox.path}")
    ctx.invoke(poll)
    click.echo(f"\noutgoing mail written to: {settings.smtp.path}\n"
               "next: mailproc complaints list; mailproc complaints show NUMBER")


# ---- backup ------------------------------------------------------------------------------

@cli.command("backup")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@pass_ctx
def backup_cmd(obj: Ctx, directory: Path, as_json: bool) -> None:
    """Back up the database, the archive and the configuration into DIR/<timestamp>/.

    SQLite: an online backup (safe while `mailproc run` works). PostgreSQL: pg_dump
    --format=custom when pg_dump is on PATH. Secrets (the environment file) are not copied.

    Example: mailproc backup /var/backups/mailproc
    """
    from mailproc.ops import backup as backup_mod

    def say(message: str) -> None:
        click.echo(f"  {message}", err=True)

    result = backup_mod.backup(obj.settings, directory,
                               progress=say if sys.stderr.isatty() else None)
    if as_json:
        emit_json(result.as_dict())
        return
    click.echo(f"backup written to {result.folder}")
    for label, path in (("database", result.database), ("archive", result.archive),
                        ("config", result.config)):
        if path is not None:
            extra = f" ({result.files} files)" if label == "archive" else ""
            click.echo(f"  {label}: {path}{extra}")
    click.echo(f"  {result.bytes / 1e6:.1f} MB in all")


# ---- audit -------------------------------------------------------------------------------

@cli.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.option("--anchor", default="", metavar="HASH",
              help="A chain head printed earlier (daily digest, monthly recap): prove that "
                   "nothing before it was rewritten.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def audit_verify(obj: Ctx, anchor: str, as_json: bool) -> None:
    """Check the hash chain of events and every archived file it names (raw mail,
    attachments, forms, reports); name the first event altered or removed and each file
    missing or changed. Exit 1 if so.

    Example: mailproc audit verify --anchor 3f5a…   (the head printed in a digest)
    """
    from mailproc import store
    from mailproc.ops.audit import audit

    app = obj.app()
    report = audit(app.archive, anchor=anchor,
                   progress=None if as_json else progress_printer("berkas diperiksa"))
    chain = report.chain
    if as_json:
        emit_json({"ok": report.ok, "events": chain.events, "problem": chain.problem or None,
                   "event_id": chain.event_id, "files": report.files,
                   "files_removed": report.removed, "events_redacted": chain.redacted,
                   "file_problems": [{"path": p.path, "problem": p.problem,
                                      "event_id": p.event_id} for p in report.file_problems],
                   "anchor": ({"hash": anchor.strip().lower(),
                               "event_id": chain.anchor_event_id}
                              if anchor and not chain.problem else None),
                   "head": store.chain_head()})
    else:
        if chain.problem:
            click.echo(f"audit trail BROKEN after checking {chain.events} event(s): "
                       f"{chain.problem}")
        else:
            click.echo(f"audit trail intact: {chain.events} event(s)")
            if chain.redacted:
                click.echo(f"  {chain.redacted} of them with a customer's personal data "
                           "replaced by `customer erase` (vouched for by its event)")
            if anchor:
                click.echo(f"anchor {anchor.strip()[:16]}… found: event {chain.anchor_event_id};"
                           " nothing before it was rewritten")
        for p in report.file_problems:
            if p.problem == "not removed":
                click.echo(f"archived file NOT REMOVED: {p.path} (its removal was recorded by "
                           f"event {p.event_id}); run `mailproc records purge` again to finish")
                continue
            click.echo(f"archived file {p.problem.upper()}: {p.path} (recorded by event "
                       f"{p.event_id}); restore it from a backup (`mailproc backup`)")
        if not report.file_problems:
            click.echo(f"archived files intact: {report.files - report.removed} file(s)"
                       + (f"; {report.removed} removed as recorded (records purge, customer "
                          "erase)" if report.removed else ""))
    if not report.ok:
        raise click.exceptions.Exit(1)


# ---- templates ---------------------------------------------------------------------------

@cli.group()
def templates() -> None:
    """Check, list and export the templates: the Word forms and the mail texts."""


@templates.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that exist in FOLDER.")
def templates_export(folder: Path, force: bool) -> None:
    """Copy the templates mailproc ships (the four Word forms and the mail texts) into FOLDER,
    for a company to edit; then name FOLDER in paths.templates.

    Example: mailproc templates export /etc/mailproc/templates
    """
    source = resources.templates_dir()
    files = sorted(p for p in source.rglob("*")
                   if p.is_file() and p.suffix in (".docx", ".txt", ".html")
                   and "tools" not in p.relative_to(source).parts)
    existing = [folder / p.relative_to(source) for p in files
                if (folder / p.relative_to(source)).exists()]
    if existing and not force:
        raise MailprocError(f"{len(existing)} file(s) exist already in {folder} (e.g. "
                            f"{existing[0].name}); pass --force to overwrite them")
    for p in files:
        target = folder / p.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
    click.echo(f"copied {len(files)} template(s) to {folder}; to use them set\n"
               f"  [paths]\n  templates = \"{folder.resolve()}\"\n"
               "in the configuration, then run `mailproc templates check`")


@templates.command("check")
@click.argument("name", required=False, type=click.Choice(["ptpp", "retur", "email"]))
@pass_ctx
def templates_check(obj: Ctx, name: str | None) -> None:
    """Render the form templates and the mail texts with sample data; report missing required
    fields, controls without a tag, and variables a template uses but is never given.

    Example: mailproc templates check ptpp
    """
    from mailproc.forms import catalogue
    from mailproc.ops import doctor

    problems: list[str] = []
    for key in [name] if name else ["ptpp", "retur", "email"]:
        if key == "email":
            template = obj.settings.templates_dir / "email"
            found = doctor.check_mail_texts(obj.settings.templates_dir)
        else:
            template = obj.settings.forms[key].template
            found = catalogue.check_template(template, key, strict=True)
        problems += found
        click.echo(f"{key}: {template}: " + ("ok" if not found else f"{len(found)} problem(s)"))
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    if problems:
        raise click.exceptions.Exit(1)


@templates.command("fields")
@click.argument("name", type=click.Choice(["ptpp", "retur"]))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def templates_fields(obj: Ctx, name: str, as_json: bool) -> None:
    """List a form's fields: tag, type, label, and the steps that require it.

    Example: mailproc templates fields ptpp --json
    """
    from mailproc.domain import forms
    from mailproc.forms import catalogue

    present = dict(catalogue.template_fields(obj.settings.forms[name].template))
    rows = [{"name": f.name, "type": f.kind, "label": f.label,
             "required_for": sorted(f.required_for), "options": list(f.options),
             "in_template": f.name in present}
            for f in forms.FORMS[name]]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        need = ", ".join(r["required_for"]) or "-"
        mark = "" if r["in_template"] else "  (MISSING from the template)"
        click.echo(f"{r['name']:<24} {r['type']:<9} {need:<18} {r['label']}{mark}")


# ---- doctor ------------------------------------------------------------------------------

@cli.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of {check, status, message}.")
@pass_ctx
def doctor(obj: Ctx, as_json: bool) -> None:
    """Check that this installation is ready: configuration, templates and mail texts,
    database, IMAP, SMTP, holiday data, archive. One line per check with what to fix; exit 1
    if any fails. Never processes, moves or sends mail.

    Example: mailproc doctor
    """
    from mailproc.config import config_path_from
    from mailproc.ops import doctor as doctor_mod

    checks = doctor_mod.run(config_path_from(obj.config_arg, os.environ), os.environ,
                            clock=obj.clock)
    if as_json:
        emit_json([c.as_dict() for c in checks])
    else:
        for line in doctor_mod.lines(checks):
            click.echo(line)
    if doctor_mod.failed(checks):
        raise click.exceptions.Exit(1)


# ---- auth (OAuth2) -----------------------------------------------------------------------

# = sorted(mailproc.oauth.PROVIDERS), which --help should not import (tests/unit/test_startup.py
# keeps the two equal)
OAUTH_PROVIDERS = ("generic", "google", "microsoft")


@cli.group()
def auth() -> None:
    """OAuth2 sign-in for Microsoft 365 and Gmail / Google Workspace (XOAUTH2)."""


@auth.command("login")
@click.option("--provider", type=click.Choice(OAUTH_PROVIDERS),
              help="Default: oauth.provider.")
@click.option("--client-id", metavar="ID", help="Default: oauth.client_id.")
@click.option("--tenant", metavar="T", help="Microsoft: directory (tenant) ID or domain.")
@click.option("--no-browser", is_flag=True, help="Google: print the address, open nothing.")
@click.option("--port", type=int, default=0, show_default=True,
              help="Google: loopback port of the redirect (0: any free port).")
@pass_ctx
def auth_login(obj: Ctx, provider: str | None, client_id: str | None, tenant: str | None,
               no_browser: bool, port: int) -> None:
    """Sign in once and store the token (mode 0600; oauth.token_file, default in the state
    folder). Microsoft: a code to enter at the address shown; Google: the browser.

    Example: mailproc auth login --provider microsoft --tenant contoh.co.id
    """
    from mailproc import oauth

    token = oauth.login(obj.settings, provider=provider, client_id=client_id, tenant=tenant,
                        echo=click.echo, open_browser=not no_browser, port=port)
    cfg = obj.settings.oauth
    click.echo(f"signed in as {token.account or '?'} ({token.provider}); token stored in "
               f"{cfg.token_file}, access token valid until "
               f"{local_time(obj.settings, token.expires_at)}, refreshed automatically")
    if (token.provider, token.client_id) != (cfg.provider, cfg.client_id):
        click.echo(f"note: set provider = \"{token.provider}\" and client_id = "
                   f"\"{token.client_id}\" in [oauth] of {obj.settings.config_path}, or the "
                   "token will not be used", err=True)


@auth.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_ctx
def auth_status(obj: Ctx, as_json: bool) -> None:
    """Which OAuth2 token is stored, for whom, until when (never the token itself).

    Example: mailproc auth status --json
    """
    from mailproc import oauth

    info = oauth.status(obj.settings.oauth)
    if as_json:
        emit_json(info)
        return
    settings = obj.settings
    expires = datetime.fromisoformat(info["expires_at"])
    obtained = datetime.fromisoformat(info["obtained_at"])
    left = ("expired (refreshed at the next use)" if info["expired"]
            else f"valid for {info['seconds_left'] // 60} min")
    click.echo(f"token file:    {info['token_file']} (mode {info['mode']})\n"
               f"provider:      {info['provider']} (client {info['client_id']})\n"
               f"account:       {info['account'] or '?'}\n"
               f"obtained:      {local_time(settings, obtained)}\n"
               f"access token:  until {local_time(settings, expires)}: {left}\n"
               f"refresh token: {'present' if info['refresh_token'] else 'none'}")
    if not info["matches_config"]:
        click.echo("warning: the token is for another provider or client than [oauth] names; "
                   "run `mailproc auth login` again", err=True)
