"""What holding the fake Discord to Discord's API description costs the test suite.

Runs the test suite in this process (``pytest.main``) with the fake's two validation
entry points timed: request bodies against their operation's schema, and the fake's
answers against the response schema for their status. Prints the seconds spent in
each, the suite's wall time, and their ratio (issue 8's target: the suite grows by
at most 10%).

    .venv/bin/python bench/contract.py [PYTEST ARGS...]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fake_discord import openapi  # noqa: E402


class ValidationClock:
    """A pytest plugin that times ``ApiDescription``'s two validation methods."""

    def __init__(self) -> None:
        self.seconds = {"requests": 0.0, "answers": 0.0}
        self.calls = 0
        self.started = time.perf_counter()
        self._timed("request_errors", "requests")
        self._timed("response_problems", "answers")

    def _timed(self, name: str, key: str) -> None:
        original: Callable[..., Any] = getattr(openapi.ApiDescription, name)

        def timed(description: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(description, *args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - start
                self.calls += 1

        setattr(openapi.ApiDescription, name, timed)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Print the figures under pytest's own summary."""
        wall = time.perf_counter() - self.started
        spent = sum(self.seconds.values())
        terminalreporter.write_line(
            f"validation: requests {self.seconds['requests']:.2f} s, "
            f"answers {self.seconds['answers']:.2f} s, {self.calls} calls; "
            f"suite {wall:.1f} s; validation / rest of the suite = {spent / (wall - spent):.3f}"
        )


if __name__ == "__main__":
    sys.exit(
        pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]], plugins=[ValidationClock()])
    )
