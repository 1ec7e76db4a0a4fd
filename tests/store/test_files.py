"""Loaded source files: remembered with their article, asked for by path."""

from __future__ import annotations

from dataclasses import replace

from bot.store import SourceFile, Store
from tests.factories import draft


async def test_source_files_are_remembered_with_the_article(store: Store) -> None:
    source = SourceFile("/data/a.md", 10, 123, "abc")
    await store.articles.save([(draft(1), source)])
    assert await store.files.known() == {"/data/a.md": source}
    await store.files.touch([replace(source, mtime_ns=456)])
    assert (await store.files.known())["/data/a.md"].mtime_ns == 456


async def test_source_files_can_be_asked_for_by_path(store: Store) -> None:
    files = [SourceFile(f"/d/{n}.md", n, n, str(n)) for n in range(1200)]
    await store.articles.save([(draft(n), f) for n, f in enumerate(files)])
    wanted = [f"/d/{n}.md" for n in range(0, 1200, 7)] + ["/d/missing.md"]
    found = await store.files.known(wanted)
    assert sorted(found) == sorted(wanted[:-1])
    assert found["/d/7.md"] == files[7]
