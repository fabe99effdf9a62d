"""`mailproc serve` (the web page) and `mailproc users` (its accounts). The web package and
the store are imported in the commands, so `--help` loads neither Flask nor peewee."""

from __future__ import annotations

import os
import signal

import click

from mailproc.cli.base import Ctx, cli, emit_json, local_time, pass_ctx
from mailproc.errors import MailprocError


@cli.command("serve")
@click.option("--listen", default=None, metavar="HOST:PORT",
              help="Address to listen on (default web.listen, 127.0.0.1:8025).")
@click.option("--threads", default=4, show_default=True, help="Worker threads.")
@pass_ctx
def serve(obj: Ctx, listen: str | None, threads: int) -> None:
    """Serve the web page: Dasbor, Register, Keluhan (with the actions of marketing
    administration) and Rekap, for the accounts of `mailproc users add`.

    Put it behind a reverse proxy with TLS for anything but this machine (docs/deploy.md).

    Example: mailproc serve --listen 127.0.0.1:8025
    """
    from mailproc.store import webviews
    from mailproc.web import server

    app = obj.app()
    if not webviews.user_list():
        click.echo("mailproc: warning: no web account yet; add one with "
                   "`mailproc users add NAME --role admin`", err=True)
    web = server.build(app)
    address = listen or app.settings.web.listen
    httpd = server.make_server(web, address, threads=threads)
    click.echo(f"mailproc: web page on http://{address}/ (Ctrl+C stops)")

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # systemctl stop: close the sockets, as Ctrl+C does

    signal.signal(signal.SIGTERM, stop)
    try:
        httpd.run()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.close()


@cli.group()
def users() -> None:
    """Accounts of the web page (`mailproc serve`)."""


def _new_password(name: str) -> str:
    from mailproc.web import auth

    password = os.environ.get("MAILPROC_USER_PASSWORD", "")
    if not password:
        password = click.prompt(f"Password for {name}", hide_input=True,
                                confirmation_prompt=True)
    problem = auth.password_problem(password)
    if problem:
        raise click.BadParameter(f"at least {auth.MIN_PASSWORD_LENGTH} characters "
                                 f"({problem})", param_hint="password")
    return password


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "viewer"]), required=True,
              help="admin: marketing administration, may act; viewer: reads only.")
@pass_ctx
def users_add(obj: Ctx, name: str, role: str) -> None:
    """Add an account. The password is asked for (or read from MAILPROC_USER_PASSWORD, for
    scripts) and only its scrypt hash is kept.

    Example: mailproc users add rina --role admin
    """
    from mailproc import store
    from mailproc.store import webviews
    from mailproc.web import auth

    app = obj.app()
    name = name.strip()
    if not name or len(name) > 100 or any(ch.isspace() for ch in name):
        raise click.BadParameter("a name without spaces, at most 100 characters",
                                 param_hint="NAME")
    if webviews.user_by_name(name) is not None:
        raise MailprocError(f"there is already a user {name!r}; see `mailproc users list`")
    password = _new_password(name)
    with store.transaction():
        webviews.add_user(name, auth.hash_password(password), role, app.clock())
    click.echo(f"user {name} added ({role})")


@users.command("password")
@click.argument("name")
@pass_ctx
def users_password(obj: Ctx, name: str) -> None:
    """Set a new password for an account (asked for, or MAILPROC_USER_PASSWORD).

    Example: mailproc users password rina
    """
    from mailproc import store
    from mailproc.errors import NotFound
    from mailproc.store import webviews
    from mailproc.web import auth

    obj.app()
    if webviews.user_by_name(name) is None:
        raise NotFound(f"no user {name!r}; see `mailproc users list`")
    password = _new_password(name)
    with store.transaction():
        webviews.set_password(name, auth.hash_password(password))
    click.echo(f"password of {name} changed")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def users_list(obj: Ctx, as_json: bool) -> None:
    """List the accounts of the web page.

    Example: mailproc users list
    """
    from mailproc.store import webviews

    obj.app()
    found = webviews.user_list()
    if as_json:
        emit_json([{"name": u.name, "role": u.role,
                    "created_at": u.created_at.isoformat() if u.created_at else None}
                   for u in found])
        return
    if not found:
        click.echo("no users; add one with `mailproc users add NAME --role admin`")
        return
    for u in found:
        click.echo(f"{u.name:<20} {u.role:<7} {local_time(obj.settings, u.created_at)}")
