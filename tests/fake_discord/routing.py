"""Route templates and path patterns shared by the REST router, faults and request lookups.

A template looks like ``/channels/{channel_id}/messages``. The same syntax
doubles as a pattern: ``{name}`` matches any one path segment, literal text
matches itself, so ``/channels/{channel_id}/messages`` matches every channel
and ``/channels/123/messages`` only channel 123.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .openapi import ApiDescription, Operation
    from .recording import RecordedRequest

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=512)
def compile_template(template: str) -> re.Pattern[str]:
    """Turn a template into a regex with one named group per placeholder."""
    parts: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[last : match.start()]))
        parts.append(f"(?P<{match.group(1)}>[^/]+)")
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts))


def path_matches(pattern: str, path: str) -> bool:
    """Whether a concrete ``path`` fits ``pattern`` (a template or a literal path)."""
    return (
        compile_template(pattern.rstrip("/") or "/").fullmatch(path.rstrip("/") or "/") is not None
    )


def method_matches(pattern: str, method: str) -> bool:
    """``*`` matches any method; otherwise a case-insensitive comparison."""
    return pattern == "*" or pattern.upper() == method.upper()


@dataclass
class Reply:
    """What a handler answers: a status, a JSON-able body (None for no body) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["RecordedRequest"], Awaitable[Reply]]


@dataclass(frozen=True)
class ApiRoute:
    """One REST route: method, template, handler, its operation in Discord's API description,
    and whether it needs the bot token."""

    method: str
    template: str
    handler: Handler
    operation: Operation
    auth: bool = True
    #: Interaction callbacks and webhooks are exempt from the global rate limit.
    interaction: bool = False

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The placeholder values if this route serves ``method path``."""
        if method.upper() != self.method:
            return None
        found = compile_template(self.template).fullmatch(path)
        return None if found is None else found.groupdict()


class Router:
    """An ordered list of routes; the first match wins.

    Only operations of Discord's API description can be added, so a typo in a
    route or an endpoint Discord retired fails when the fake is built.
    """

    def __init__(self, description: ApiDescription) -> None:
        self.description = description
        self.routes: list[ApiRoute] = []

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        auth: bool = True,
        interaction: bool = False,
    ) -> None:
        """Register a route; it must be an operation of Discord's API description."""
        operation = self.description.operation(method, template)
        if operation is None:
            raise ValueError(f"{method} {template} is not in Discord's API description")
        self.routes.append(
            ApiRoute(method.upper(), template, handler, operation, auth, interaction)
        )

    def resolve(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        """The route and its parameters for a request, or None."""
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None
