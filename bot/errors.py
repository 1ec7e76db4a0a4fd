"""Domain exceptions. Each carries a message a person can read and act on."""


class NewsbotError(Exception):
    """Base class for every error newsbot reports to a person instead of a traceback."""


class ConfigError(NewsbotError):
    """A setting is missing or has a value newsbot cannot use."""


class ArticleError(NewsbotError):
    """An article file cannot be stored; the message names the field or YAML position."""


class StoreError(NewsbotError):
    """The database cannot be opened or used (wrong file, newer schema, locked, corrupt)."""


class DatabaseUnavailable(StoreError):
    """The database server does not answer now (restarting, or the connection dropped):
    the same request may work again shortly."""


class AlreadyRunning(NewsbotError):
    """Another ``newsbot run`` serves the same database (and shards)."""


class DiscordUnreachable(NewsbotError):
    """``newsbot run`` could not log in: no network, or Discord not answering."""


class LoadError(NewsbotError):
    """A load could not go on (a parsing process died); what it stored so far is kept."""


class UsageError(NewsbotError):
    """A command was given arguments it cannot act on (a missing path, a bad number)."""


class UserError(NewsbotError):
    """Someone asked for something that cannot be done; the message says what to do instead."""


class DeliveryError(NewsbotError):
    """Posting to a channel failed; the subclass says whether to pause, drop or retry."""


class ChannelForbidden(DeliveryError):
    """Discord answered 403: the bot may not post there (the message says what it lacks)."""

    def __init__(self, message: str, *, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing  # the permissions it lacks as Discord names them, if known


class ChannelGone(DeliveryError):
    """Discord answered 404: the channel no longer exists."""


class MessageRefused(DeliveryError):
    """Discord refused the message in every form (400): it is not sent to that channel."""


class DeliveryFailed(DeliveryError):
    """A 5xx, a time-out or a network error: the article stays due for a later run."""


class RunInProgress(UserError):
    """A posting run is under way; a manual run does not start another."""
