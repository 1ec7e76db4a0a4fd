"""Error types: Discord's JSON errors and the exceptions the fake raises in tests."""

from __future__ import annotations

from typing import Any

#: Discord JSON error codes used by the fake (code -> default message).
ERROR_MESSAGES: dict[int, str] = {
    0: "General error",
    10002: "Unknown Application",
    10003: "Unknown Channel",
    10004: "Unknown Guild",
    10007: "Unknown Member",
    10008: "Unknown Message",
    10013: "Unknown User",
    10015: "Unknown Webhook",
    10062: "Unknown interaction",
    10063: "Unknown application command",
    40060: "Interaction has already been acknowledged.",
    50001: "Missing Access",
    50006: "Cannot send an empty message",
    50013: "Missing Permissions",
    50035: "Invalid Form Body",
    50109: "The request body contains invalid JSON.",
}

#: The code a bare status answers with when a test does not name one.
DEFAULT_CODE_FOR_STATUS: dict[int, int] = {
    400: 50035,
    401: 0,
    403: 50013,
    404: 10003,
    429: 0,
    500: 0,
    502: 0,
    503: 0,
    504: 0,
}


class ApiError(Exception):
    """Raised by a route handler to answer with a Discord-style JSON error."""

    def __init__(
        self,
        status: int,
        code: int | None = None,
        message: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = DEFAULT_CODE_FOR_STATUS.get(status, 0) if code is None else code
        self.message = message or ERROR_MESSAGES.get(self.code) or f"{status}: error"
        self.errors = errors
        super().__init__(f"{status} {self.code} {self.message}")

    def body(self) -> dict[str, Any]:
        """The JSON body Discord sends for this error."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def form_error(path: str, code: str, message: str) -> ApiError:
    """A 400 Invalid Form Body error for one field, e.g. ``form_error("content", ...)``.

    ``path`` is dotted (``embeds.0.title``); Discord nests errors the same way.
    """
    tree: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        tree = {part: tree}
    return ApiError(400, 50035, "Invalid Form Body", errors=tree)


class FakeDiscordTimeout(AssertionError):
    """The bot did not do what a test waited for within the timeout.

    It is an ``AssertionError`` so pytest reports it as a plain test failure.
    """


class NoGatewaySession(RuntimeError):
    """An event had to reach a shard that no bot is connected to."""
