"""Numbered ``.sql`` migrations, one folder per backend: ``0001_articles.sql``, ``0002_…``."""

from __future__ import annotations

from importlib import resources

Migration = tuple[int, str, str]  # (version, file name, SQL)


def numbered_migrations(package: str) -> list[Migration]:
    """Return the migrations in ``package``'s ``migrations`` folder, numbered 1..n without gaps."""
    folder = resources.files(package) / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    if [version for version, _, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps: {found}")
    return found
