"""The one exception hierarchy of dbx_iot_gen.

Every error the library raises on purpose is a :class:`DbxIotGenError`, so callers (and the
CLI) can tell a bad argument from a Spark failure.
"""

from __future__ import annotations

__all__ = ["DbxIotGenError", "InvalidConfigError", "OutputError"]


class DbxIotGenError(Exception):
    """Base class of every error raised by dbx_iot_gen.

    ``field`` names the parameter or config field at fault (``None`` when none is), ``message``
    says what is wrong with it; the error reads ``field: message``.

    Example:
        >>> e = DbxIotGenError("pyspark is not installed")
        >>> e.field is None, str(e)
        (True, 'pyspark is not installed')
    """

    def __init__(self, *args: str) -> None:
        # (message) or (field, message)
        field, message = (None, *args) if len(args) == 1 else args
        super().__init__(message if field is None else f"{field}: {message}")
        self.field: str | None = field
        self.message: str = message


class InvalidConfigError(DbxIotGenError, ValueError):
    """A config field or argument has a value outside what is accepted.

    The message names the field (a config field, or the function's parameter) and the accepted
    values or range; ``field`` and ``message`` hold the two parts.

    Example:
        >>> str(InvalidConfigError("seed", "must be a whole number, got 'x'"))
        "seed: must be a whole number, got 'x'"
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)


class OutputError(DbxIotGenError):
    """The output location cannot be used (not writable, a file where a folder is needed...).

    Like :class:`InvalidConfigError`, the message starts with the parameter that names the
    location (``out_dir``, ``folder``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
