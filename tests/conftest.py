"""Fixtures shared across the test suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import Store, open_store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A real, empty, migrated SQLite store in a temporary directory."""
    opened = await open_store(tmp_path / "newsbot.db")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """An empty directory to write article files into."""
    path = tmp_path / "articles"
    path.mkdir()
    return path
