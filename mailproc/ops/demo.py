"""`mailproc demo --reset`: forget the demo's run (database, state, archive, inbox and sent
Maildirs) so the demo starts over.

Deleting is refused unless every sign says this is the demo set-up of a checkout: the
configuration is `<root>/config/mailproc.toml` next to `mailproc.example.toml`, the mailbox
and the outgoing mail are local Maildirs, the database is SQLite, and every path to delete
lies strictly inside paths.root without holding the configuration or the templates. Only the
paths the configuration names are removed; symbolic links are removed, never followed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mailproc.config import Settings
from mailproc.errors import MailprocError


class ResetRefused(MailprocError):
    """`demo --reset` would delete something that is not the demo's; nothing was deleted."""


def reset_paths(settings: Settings) -> list[Path]:
    """What `--reset` deletes (existing or not), after the checks; raises ResetRefused."""
    root = settings.root.resolve()
    config = settings.config_path.resolve()
    example = root / "config" / "mailproc.example.toml"
    if config != root / "config" / "mailproc.toml" or not example.is_file():
        raise ResetRefused(
            f"--reset only resets the demo set-up of a checkout (config/mailproc.toml next to "
            f"config/mailproc.example.toml under paths.root); {config} is not that; nothing "
            "was deleted")
    if settings.mailbox.kind != "maildir" or settings.smtp.kind != "maildir":
        raise ResetRefused("--reset needs the demo's local Maildirs (mailbox.url and smtp.url "
                           "maildir:…); this configuration reads or sends real mail; nothing "
                           "was deleted")
    if not settings.database_url.startswith("sqlite:///"):
        raise ResetRefused("--reset works on the demo's SQLite database only; nothing was "
                           "deleted")
    database = Path(settings.database_url[len("sqlite:///"):])
    assert settings.mailbox.path is not None and settings.smtp.path is not None
    targets = [database, *(database.with_name(database.name + s)
                           for s in ("-wal", "-shm", "-journal")),
               settings.state_dir, settings.archive_dir, settings.mailbox.path,
               settings.smtp.path]
    keep = [config, example, settings.templates_dir.resolve(), root / "examples"]
    out: list[Path] = []
    for target in targets:
        # Resolve the folder holding it, not the last part: a link is deleted as a link.
        where = target.parent.resolve() / target.name
        if root not in where.parents:
            raise ResetRefused(f"--reset: {target} is outside {root}; nothing was deleted")
        if any(where == k or where in k.parents for k in keep):
            raise ResetRefused(f"--reset: {target} holds the configuration, the examples or "
                               "the templates; nothing was deleted")
        if where not in out:
            out.append(where)
    return out


def reset(settings: Settings) -> list[Path]:
    """Delete the demo's files; returns what existed and was removed."""
    removed = []
    for path in reset_paths(settings):
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        else:
            continue
        removed.append(path)
    return removed
