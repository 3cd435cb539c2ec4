"""The one error hierarchy of logyard.

Every error carries the HTTP status and the exact text Loki would answer with, so that it is raised
deep (parser, storage, limits) and rendered once, in `logyard.api`, as a `text/plain` body.
"""

from __future__ import annotations


class LogyardError(Exception):
    """Base of every error logyard reports to a client."""

    status: int = 500

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class BadRequestError(LogyardError):
    """A request Loki answers with 400: bad parameters, bad payloads, invalid labels."""

    status = 400


class ParseError(BadRequestError):
    """A LogQL syntax error, worded as Loki's parser words it (`parse error at line L, col C: ...`)."""

    def __init__(self, message: str, line: int = 0, col: int = 0) -> None:
        self.detail = message
        self.line = line
        self.col = col
        if line or col:
            text = f"parse error at line {line}, col {col}: {message}"
        else:
            text = f"parse error : {message}"
        super().__init__(text)


class LimitError(BadRequestError):
    """A query or push that exceeds a configured limit (entries, series, points, line size)."""


class QueryTimeoutError(LogyardError):
    """A query that ran past `limits.query_timeout`: Loki's 504 and its text (pkg/util/server/error.go)."""

    status = 504

    def __init__(self) -> None:
        super().__init__("request timed out, decrease the duration of the request or add more label matchers "
                         "(prefer exact match over regex match) to reduce the amount of data processed")


class ClientClosedError(LogyardError):
    """A query whose client went away: Loki's 499 (nginx's "client closed request"), said only to the log."""

    status = 499

    def __init__(self) -> None:
        super().__init__("the request was cancelled by the client")


class UnprocessableError(LogyardError):
    """A push Loki answers with 422 (for example no valid stream at all)."""

    status = 422


class TooLargeError(LogyardError):
    """A push body over `distributor.max_recv_msg_size` or `max_decompressed_size`: Loki's 413."""

    status = 413


class RateLimitedError(LogyardError):
    """Ingestion rate or stream limits: 429, so that clients back off and retry."""

    status = 429


class NotFoundError(LogyardError):
    status = 404


class CorruptDataError(LogyardError):
    """A file in the data directory that does not decode; names the file and the field."""

    status = 500


class StorageError(LogyardError):
    """The data directory could not be written (a full disk, an I/O error): nothing of the request
    was stored, so a client may retry it. 507 (Insufficient Storage) for a full disk, 500 otherwise;
    Loki has no code of its own here (its ingester answers 500). The text never names a path."""

    status = 500


class ConfigError(LogyardError):
    """A configuration file or flag that does not validate; the message names the key path."""

    status = 400
