"""Fault injection: make chosen requests fail, or answer slowly.

A :class:`Fault` matches by method and path pattern (see :mod:`.routing`), is
used for the next ``times`` matching requests (``None`` = forever) and then
lapses. Faults are checked in the order they were added.

How discord.py reacts, so tests stay fast:

* 403 / 404 raise ``discord.Forbidden`` / ``discord.NotFound`` at once.
* 429 is retried after ``retry_after`` seconds only when the response has a
  ``Via`` header and a JSON body (both on by default here); without ``Via`` it
  raises ``discord.HTTPException`` (discord.py assumes a Cloudflare ban).
* 500/502/504/524 are retried up to 5 times with sleeps of 1, 3, 5, 7 and 9 s
  (~25 s in all) before ``discord.DiscordServerError``: use them sparingly,
  e.g. ``times=1`` costs one second.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from .errors import ApiError
from .routing import Reply, method_matches, path_matches


@dataclass
class Fault:
    """One injected failure or delay. ``hits`` counts how often it fired."""

    method: str
    path: str
    status: int | None = None
    code: int | None = None
    message: str | None = None
    times: int | None = 1
    delay: float = 0.0
    #: Seconds to wait *after* the request was carried out, before answering: the
    #: moment a client can die having changed Discord's state without hearing so.
    delay_answer: float = 0.0
    retry_after: float = 0.05
    is_global: bool = False
    via: bool = True
    json_body: bool = True
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        """Whether the fault has been used up."""
        return self.times is not None and self.hits >= self.times

    def applies_to(self, method: str, path: str, route: str | None) -> bool:
        """Whether this fault should fire for the request."""
        if self.exhausted or not method_matches(self.method, method):
            return False
        return self.path == route or path_matches(self.path, path)

    def describe(self) -> str:
        """Short label stored on the recorded request."""
        what = f"status {self.status}" if self.status is not None else "delay"
        if self.delay_answer:
            what = "late answer"
        return f"{what} for {self.method} {self.path}"

    def reply(self) -> Reply | None:
        """The error answer, or None for a delay-only fault."""
        if self.status is None:
            return None
        if self.status == 429:
            return self._rate_limited_reply()
        error = ApiError(self.status, self.code, self.message)
        body: object = error.body() if self.json_body else error.message
        return Reply(self.status, body)

    def _rate_limited_reply(self) -> Reply:
        reset = time.time() + self.retry_after
        headers = {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{reset:.3f}",
            "X-RateLimit-Reset-After": f"{self.retry_after:.3f}",
            "X-RateLimit-Scope": "global" if self.is_global else "user",
            "Retry-After": str(max(1, math.ceil(self.retry_after))),
        }
        if self.is_global:
            headers["X-RateLimit-Global"] = "true"
        if self.via:
            headers["Via"] = "1.1 google"
        body: object = {
            "message": self.message or "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": self.is_global,
            "code": self.code or 0,
        }
        if not self.json_body:
            body = "error code: 1015"
        return Reply(429, body, headers)


class FaultInjector:
    """The active faults, in the order they were added."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Activate a fault and return it (keep it to read ``hits``)."""
        self.faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Deactivate one fault."""
        if fault in self.faults:
            self.faults.remove(fault)

    def clear(self) -> None:
        """Deactivate every fault."""
        self.faults.clear()

    def take(self, method: str, path: str, route: str | None) -> Fault | None:
        """Find the first fault for a request and count the hit."""
        for fault in self.faults:
            if fault.applies_to(method, path, route):
                fault.hits += 1
                return fault
        return None
