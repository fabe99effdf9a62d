"""Thin click commands over the services; errors become exit codes only here.

Exit codes: 0 ok, 1 error, 2 configuration error, 3 not found, 4 another instance runs.

The group, its context and shared helpers are in `base`; the commands, by group, in the modules
imported below (importing them registers them on `cli`). The entry point is `main`.
"""

from __future__ import annotations

from mailproc.cli import (  # noqa: F401  (register)
    admin,
    complaints,
    mailcmds,
    ptpp,
    records,
    reportcmds,
    web,
)
from mailproc.cli.base import Ctx, MailprocGroup, cli

__all__ = ["Ctx", "MailprocGroup", "cli", "main"]


def main() -> None:
    cli(prog_name="mailproc")
