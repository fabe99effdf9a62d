"""One error base; each subclass says what went wrong and what to do next."""

from __future__ import annotations


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
