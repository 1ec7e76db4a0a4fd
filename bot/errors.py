"""Domain exceptions. Each carries a message a person can read and act on."""


class NewsbotError(Exception):
    """Base class for every error newsbot reports to a person instead of a traceback."""


class ConfigError(NewsbotError):
    """A setting is missing or has a value newsbot cannot use."""


class ArticleError(NewsbotError):
    """An article file cannot be stored; the message names the field or YAML position."""


class StoreError(NewsbotError):
    """The database cannot be opened or used (wrong file, newer schema, locked, corrupt)."""


class UsageError(NewsbotError):
    """A command was given arguments it cannot act on (a missing path, a bad number)."""


class UserError(NewsbotError):
    """Someone asked for something that cannot be done; the message says what to do instead."""
