"""Article embeds respect every Discord limit and show text as written."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.articles import Article, ArticlePage, Image, Provider, RelatedItem
from bot.chat.embeds import article_embed, article_embeds, clip, related_lines
from bot.chat.views import page_header


def article(number: int = 1, **changes: object) -> Article:
    fields: dict[str, object] = {
        "id": number,
        "url": f"https://news.example.com/{number}",
        "title": f"Title {number}",
        "excerpt": "An excerpt.",
        "published_at": datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
        "provider": Provider("Example News", "news.example.com"),
        "quality": 70,
        "heat": None,
        "source_published": False,
        "topics": ("AI", "Space"),
        "images": (),
        "related": (),
    }
    fields.update(changes)
    return Article(**fields)  # type: ignore[arg-type]


def test_clip_marks_the_cut_with_an_ellipsis() -> None:
    assert clip("short", 10) == "short"
    assert clip("a" * 300, 256) == "a" * 255 + "…"
    assert len(clip("word " * 100, 50)) <= 50 and clip("word " * 100, 50).endswith("…")


def test_every_limit_of_one_embed_is_respected() -> None:
    huge = article(
        title="T" * 1000,
        excerpt="E" * 10_000,
        provider=Provider("P" * 500, "p.example.com"),
        topics=tuple(f"Topic {n}" for n in range(50)),
        related=tuple(
            RelatedItem(title="R" * 500, url=f"https://r.example.com/{n}") for n in range(10)
        ),
    )
    embed = article_embed(huge).to_dict()
    assert len(embed["title"]) == 256 and embed["title"].endswith("…")
    assert len(embed["description"]) <= 4096 and embed["description"].endswith("…")
    assert len(embed["author"]["name"]) <= 256
    assert all(len(field["value"]) <= 1024 for field in embed.get("fields", []))
    assert len(article_embed(huge)) <= 6000


def test_ten_huge_articles_share_one_messages_6000_characters() -> None:
    huge = [article(n, title="T" * 400, excerpt="E" * 5000,
                    related=(RelatedItem(title="R" * 200, url="https://r.example.com/x"),))
            for n in range(12)]  # fmt: skip
    embeds = article_embeds(huge)
    assert len(embeds) == 10
    assert sum(len(e) for e in embeds) <= 6000
    assert all(e.title and len(e.title) <= 256 for e in embeds)


def test_markdown_in_titles_and_excerpts_is_shown_as_written() -> None:
    embed = article_embed(
        article(title="Why *asterisks* and _underscores_ break", excerpt="**bold** `code`")
    )
    assert embed.title == "Why \\*asterisks\\* and \\_underscores\\_ break"
    assert embed.description == "\\*\\*bold\\*\\* \\`code\\`"


def test_only_web_links_and_images_are_used() -> None:
    embed = article_embed(
        article(
            images=(Image("https://img.example.com/a.png"),),
            related=(
                RelatedItem(
                    title="Good [one]",
                    url="https://r.example.com/a_(b)",
                    provider=Provider("R", "r.example.com"),
                ),
            ),
        )
    )
    assert embed.thumbnail.url == "https://img.example.com/a.png"
    assert embed.fields[0].value == "[Good \\[one\\]](https://r.example.com/a_%28b%29) — R"


def test_related_lines_show_at_most_three_items() -> None:
    items = [RelatedItem(title=f"R{n}", url=f"https://r.example.com/{n}") for n in range(5)]
    assert related_lines(items).count("\n") == 2


def test_footer_shows_topics_and_quality() -> None:
    assert article_embed(article()).footer.text == "AI, Space · quality 70"
    assert (
        article_embed(article(quality=None, topics=())).footer.text == "no topic · quality unknown"
    )


def test_page_header_says_when_there_are_more_than_counted() -> None:
    page = ArticlePage(tuple(article(n) for n in range(5)), 1000, 5, 5, total_exact=False)
    assert (
        page_header("Search: rocket", page)
        == "**Search: rocket** — 6 to 10 of 1,000+ · page 2 of 200+"
    )
    exact = ArticlePage(tuple(article(n) for n in range(2)), 7, 5, 5)
    assert page_header("AI", exact) == "**AI** — 6 to 7 of 7 · page 2 of 2"
