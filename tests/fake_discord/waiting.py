"""A tiny "something changed" signal that tests await with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

from .errors import FakeDiscordTimeout

T = TypeVar("T")


class Notifier:
    """Wakes every waiter whenever :meth:`notify` is called.

    Waiters re-check their own predicate after each wake-up, so one notifier
    can serve all kinds of conditions (a callback arrived, a request was
    recorded, a shard identified, ...).
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake all current waiters."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float,
        describe: Callable[[], str],
    ) -> T:
        """Return the first non-None ``predicate()`` result.

        Raises :class:`FakeDiscordTimeout` with ``describe()`` as the message
        if that does not happen within ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise FakeDiscordTimeout(describe())
            event = self._event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
