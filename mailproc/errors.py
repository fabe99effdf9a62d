"""One error base; each subclass says what went wrong and what to do next."""

from __future__ import annotations

import errno


class MailprocError(Exception):
    """Base of every error mailproc raises on purpose. `exit_code` is what the CLI returns."""

    exit_code = 1


class ConfigError(MailprocError):
    """A setting is missing or invalid. The message names the key and the file."""

    exit_code = 2


class MailboxError(MailprocError):
    """The mailbox could not be reached or refused an operation."""


class OAuthError(MailprocError):
    """An OAuth2 access token could not be obtained or refreshed (the token endpoint is
    unreachable, or answered with an error)."""


class OAuthLoginNeeded(OAuthError):
    """No usable OAuth2 token: none stored yet, or the refresh token expired or was revoked.
    A person has to sign in again with `mailproc auth login`."""


class SendError(MailprocError):
    """An outgoing mail could not be handed to the server."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class NotFound(MailprocError):
    """A complaint, PTPP or outgoing mail named on the command line does not exist."""

    exit_code = 3


class AlreadyRunning(MailprocError):
    """Another `mailproc run` holds the lock of this database."""

    exit_code = 4


class EnvironmentFailure(MailprocError):
    """The machine, not the mail, stopped the work: a full disk, a quota, a read-only file
    system or a permission problem under mailproc's own folders. Every following mail would
    fail the same way, so the poll stops; nothing is quarantined and the mail stays in the
    mailbox for the next poll."""


# OSError errnos that mean "the machine", never "this mail".
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                                errno.EPERM})


def is_environment_failure(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS


def explain_os_error(exc: BaseException) -> str | None:
    """One line with what to do, for failures a user can cause outside mailproc's own checks
    (a full disk, a file mailproc may not write); None for anything else."""
    if isinstance(exc, OSError) and exc.errno is not None:
        name = f" {exc.filename}" if exc.filename else ""
        if exc.errno == errno.ENOSPC:
            return (f"the disk is full (writing{name}): free space there (`df -h`) and run the "
                    "command again; nothing was lost, unprocessed mail stays in the mailbox")
        if exc.errno == errno.EDQUOT:
            return f"disk quota exceeded (writing{name}): raise the quota or free space"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return (f"permission denied:{name or ' a file'}: run mailproc as the user that owns "
                    "its folders, or fix the permissions")
        if exc.errno == errno.EROFS:
            return f"read-only file system:{name}: point the path at a writable disk"
    return None
