"""Parsing article files: every field of the format and every way a file can be bad."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.articles import Provider
from bot.errors import ArticleError
from bot.parsing import parse_article
from tests.factories import SEED, article_fields, article_text


def parse(text: str | bytes) -> object:
    return parse_article(text.encode() if isinstance(text, str) else text)


def test_the_real_seed_article_parses_with_every_field() -> None:
    draft = parse_article(SEED.read_bytes())
    assert draft.title == "France Slaps Fine on Face Recognition Firm Clearview AI"
    assert draft.excerpt.startswith("France on Thursday slapped a 20-million-euro fine")
    assert (
        draft.url
        == "https://www.securityweek.com/france-slaps-fine-face-recognition-firm-clearview-ai"
    )
    assert draft.published_at == datetime(2022, 10, 21, 9, 16, tzinfo=UTC)
    assert draft.quality == 54
    assert draft.heat is None  # -1 means unknown
    assert draft.source_published is False
    assert draft.provider == Provider(name="SecurityWeek", domain="securityweek.com")
    assert draft.topics == ("Computer Vision", "AI")
    assert draft.category == "news" and draft.type == "article"
    assert [image.width for image in draft.images] == [256]
    assert draft.images[0].is_cached is True
    assert len(draft.related) == 4
    first = draft.related[0]
    assert first.title == "Clearview AI fined for violating the European GDPR privacy law"
    assert first.provider == Provider(name="TechSpot", domain="techspot.com")
    assert first.quality == 67
    assert first.published_at == datetime(2022, 10, 24, 21, 10, tzinfo=UTC)
    assert first.images[0].width == 3092
    assert draft.related[2].amp_url and draft.related[2].cdn_amp_url
    assert draft.related[3].images == ()
    assert draft.secured is not None and draft.secured.endswith("eg++2a5olwULJpxPUhg5LA==")


def test_defaults_for_optional_fields() -> None:
    draft = parse_article(
        article_text(excerpt=None, quality=None, heat=None, published=None, topics=None,
                     images=None, related=None, provider=None, category=None, type=None).encode()
    )  # fmt: skip
    assert draft.excerpt == ""
    assert draft.quality is None
    assert draft.heat is None
    assert draft.source_published is False
    assert draft.topics == ()
    assert draft.images == () and draft.related == ()
    assert draft.provider == Provider(name="news.example.com", domain="news.example.com")


def test_url_identity_prefers_original_url_and_falls_back_to_web_url() -> None:
    both = parse_article(
        article_text(originalUrl="https://A.example.com/x/?utm_source=feed").encode()
    )
    assert both.url == "https://a.example.com/x"
    web_only = parse_article(
        article_text(originalUrl=None, webUrl="https://b.example.com/y").encode()
    )
    assert web_only.url == "https://b.example.com/y"
    assert web_only.provider.domain == "news.example.com"


def test_missing_provider_domain_comes_from_the_url_host() -> None:
    draft = parse_article(
        article_text(
            originalUrl="https://www.Outlet.example.net/a", provider={"name": "Outlet"}
        ).encode()
    )
    assert draft.provider == Provider(name="Outlet", domain="outlet.example.net")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-03T14:05:00+01:00", datetime(2026, 11, 3, 13, 5, tzinfo=UTC)),
        ("2026-11-03T14:05:00Z", datetime(2026, 11, 3, 14, 5, tzinfo=UTC)),
        ("2026-11-03T14:05:00", datetime(2026, 11, 3, 14, 5, tzinfo=UTC)),
        ("2026-11-03", datetime(2026, 11, 3, tzinfo=UTC)),
    ],
)
def test_dates_as_strings_with_or_without_zone(value: str, expected: datetime) -> None:
    assert parse_article(article_text(publishedDateTime=value).encode()).published_at == expected


def test_dates_as_yaml_timestamps_with_or_without_z() -> None:
    for raw, expected in [
        ("2022-10-21T09:16:00Z", 9),
        ("2022-10-21T09:16:00", 9),
        ("2022-10-21 11:16:00+02:00", 9),
    ]:
        text = article_text().replace(
            "publishedDateTime: '2026-11-02T08:01:00Z'", f"publishedDateTime: {raw}"
        )
        assert f"publishedDateTime: {raw}" in text
        assert parse_article(text.encode()).published_at.hour == expected


def test_topics_single_string_deduplicated_case_insensitively() -> None:
    assert parse_article(article_text(topics="Space").encode()).topics == ("Space",)
    draft = parse_article(article_text(topics=["AI", "ai", " Open   Source ", ""]).encode())
    assert draft.topics == ("AI", "Open Source")


def test_unknown_fields_are_kept_and_secured_is_verbatim() -> None:
    draft = parse_article(
        article_text(sample=True, score={"a": 1}, seen="2026-01-01", secured="  x=;y==  ").encode()
    )
    assert draft.extra == {"sample": True, "score": {"a": 1}, "seen": "2026-01-01"}
    assert draft.secured == "  x=;y==  "


def test_body_after_front_matter_is_kept() -> None:
    assert parse_article(article_text(body="Hello *world*\n").encode()).body == "Hello *world*\n"


def test_quality_and_published_accept_equivalent_spellings() -> None:
    assert parse_article(article_text(quality="88").encode()).quality == 88
    assert parse_article(article_text(quality=0).encode()).quality == 0
    assert parse_article(article_text(published="true").encode()).source_published is True


def test_images_and_related_without_web_links_are_dropped() -> None:
    draft = parse_article(
        article_text(
            images=[{"url": "javascript:alert(1)"}, {"url": "https://img.example.com/ok.png"}],
            related=[
                {"title": "Good", "webUrl": "https://r.example.com/1", "quality": 500},
                {"title": "Bad link", "webUrl": "data:text/html,hi"},
                {"title": "", "webUrl": "https://r.example.com/2"},
                {
                    "title": "Odd provider",
                    "webUrl": "https://r.example.com/3",
                    "provider": {"name": ["x"]},
                },
            ],
        ).encode()
    )
    assert [image.url for image in draft.images] == ["https://img.example.com/ok.png"]
    assert [item.title for item in draft.related] == ["Good", "Odd provider"]
    assert draft.related[0].quality is None  # out of range: unknown
    assert draft.related[1].provider is None


def _with_fields(*lines: str) -> bytes:
    head = [
        "---",
        "title: T",
        "originalUrl: https://example.com/t",
        "publishedDateTime: 2026-01-01",
    ]
    return "\n".join([*head, *lines, "---", ""]).encode()


BAD_FILES = [
    ("", "empty file"),
    ("   \n\n", "empty file"),
    ("title: no fences\n", "no front matter"),
    ("---\ntitle: x\n", "unclosed front matter"),
    ("---\ntitle: [unclosed\n---\n", "invalid YAML at line"),
    ("---\ntitle: 'a'\n  bad: indent\n---\n", "invalid YAML at line 3"),
    ("---\n- a\n- b\n---\n", "must be a mapping of fields, got a list"),
    ("---\njust a string\n---\n", "got a string"),
    ("---\n42\n---\n", "got a number"),
    ("---\n---\n", "front matter is empty"),
    (article_text(title=None), "field 'title': is required"),
    (article_text(title="   "), "field 'title': must not be empty"),
    (article_text(title=["a"]), "field 'title': must be text, got a list"),
    (article_text(originalUrl=None, webUrl=None), "at least one URL is required"),
    (article_text(originalUrl="javascript:alert(1)"), "field 'originalUrl': only http and https"),
    (article_text(webUrl="file:///etc/passwd"), "field 'webUrl': only http and https"),
    (
        article_text(quality="high"),
        "field 'quality': must be an integer from 0 to 100, got a string ('high')",
    ),
    (
        article_text(quality=250),
        "field 'quality': must be an integer from 0 to 100, got a number (250)",
    ),
    (article_text(quality=-5), "field 'quality'"),
    (article_text(quality=True), "field 'quality'"),
    (article_text(topics=42), "field 'topics': must be a list of strings, got a number (42)"),
    (article_text(topics=["AI", 7]), "field 'topics': item 2 must be a string"),
    (
        article_text(publishedDateTime="last tuesday"),
        "field 'publishedDateTime': must be an ISO 8601",
    ),
    (article_text(publishedDateTime=None), "field 'publishedDateTime': is required"),
    (
        "---\ntitle: T\noriginalUrl: https://e.com/t\npublishedDateTime: 2026-13-45\n---\n",
        "invalid YAML at line 4, column 20: '2026-13-45' is not a valid timestamp: "
        "month must be in 1..12",
    ),
    (
        article_text(publishedDateTime="0001-01-01T00:00:00+01:00"),
        "field 'publishedDateTime': must be an ISO 8601 date and time, got a string",
    ),
    (article_text(published="maybe"), "field 'published': must be true or false"),
    (article_text(heat="hot"), "field 'heat'"),
    (
        article_text(heat=2**64),
        "field 'heat': must be an integer from 0 to 9,223,372,036,854,775,807",
    ),
    (article_text(provider=["x"]), "field 'provider': must be a mapping"),
    (article_text(images="pic.png"), "field 'images': must be a list"),
    (article_text(related=[1, 2]), "field 'related': item 1 must be a mapping"),
]


@pytest.mark.parametrize(("text", "reason"), BAD_FILES)
def test_bad_files_are_rejected_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse(text)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"---\ntitle: caf\xe9\n---\n", "not valid UTF-8 at line 2 (byte 14)"),
        (b"---\n" + b"x: " + b"a" * 2_000_000 + b"\n---\n", "over the 1,048,576-byte limit"),
        ("---\ntitle: x\n---\n".encode("utf-16"), "UTF-16 text: save the file as UTF-8"),
        (b"---\rtitle: x\r---\r", "lines end in CR alone: save the file with LF or CRLF"),
        (_with_fields("a: b\x0b"), "invalid YAML at line 5: character #x000b is not allowed"),
        (_with_fields('published: !!bool "maybe"'), "invalid YAML value: KeyError('maybe')"),
        (_with_fields("quality: " + "9" * 5000), "invalid YAML at line 5, column 10: '999"),
        (_with_fields("heat: " + "9" * 300), "got a number of about 300 digits"),
        (
            _with_fields("publishedDateTime: 9999-12-31T23:59:59-05:00"),
            "field 'publishedDateTime': 9999-12-31T23:59:59-05:00 is out of range once converted",
        ),
    ],
)
def test_binary_invalid_utf8_and_huge_files_are_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse_article(data)
    assert reason in str(caught.value)


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    assert parse_article(b"\xef\xbb\xbf" + article_text().encode()).title == "Test article number 1"


def test_windows_line_endings_are_accepted() -> None:
    text = article_text(body="Body line\n").replace("\n", "\r\n")
    assert parse_article(text.encode()).title == "Test article number 1"


_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(sorted(article_fields())), _yaml_values, max_size=8))
def test_any_field_values_either_parse_or_are_rejected_cleanly(
    overrides: dict[str, object],
) -> None:
    text = "---\n" + yaml.safe_dump({**article_fields(), **overrides}, allow_unicode=True) + "---\n"
    try:
        draft = parse_article(text.encode())
    except ArticleError as error:
        assert str(error)  # a reason, never an empty message
        return
    assert draft.title.strip()
    assert draft.url.startswith(("http://", "https://"))
    assert draft.quality is None or 0 <= draft.quality <= 100
    assert draft.published_at.tzinfo is not None


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_article_error(data: bytes) -> None:
    with contextlib.suppress(ArticleError):
        parse_article(b"---\n" + data + b"\n---\n")


@settings(max_examples=300)
@given(_yaml_values)
def test_the_fast_loader_builds_exactly_what_pyyaml_builds(value: object) -> None:
    from bot.parsing import SafeLoader

    text = yaml.safe_dump({"field": value, "same": [value, value]}, allow_unicode=True)
    assert yaml.load(text, Loader=SafeLoader) == yaml.load(text, Loader=yaml.CSafeLoader)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1, 2]\nb: *x\n",  # aliases
        "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n",  # merge keys
        "s: !!set {a, b}\n",
        "o: !!omap [{a: 1}, {b: 2}]\n",
        "when: 2022-10-21T09:16:00Z\nday: 2022-10-21\nn: ~\nyes_no: [yes, no, on, off]\nf: .inf\n",
        "octal: 0o17\nhex: 0x1F\nsci: 1e3\nempty:\nquoted: '123'\n",
        "? [complex, key]\n: value\n",
    ],
)
def test_the_fast_loader_agrees_with_pyyaml_on_unusual_yaml(text: str) -> None:
    _assert_loads_as_pyyaml(text)


@settings(max_examples=300)
@given(st.from_regex(r"[-+.0-9a-zA-Z:~_]{1,12}", fullmatch=True))
def test_plain_words_and_numbers_mean_what_pyyaml_says_every_time(word: str) -> None:
    text = f"first: {word}\nagain: {word}\nlist: [{word}, {word}]\n"
    _assert_loads_as_pyyaml(text, times=2)  # the second time, tags come from memory


def _assert_loads_as_pyyaml(text: str, times: int = 1) -> None:
    """Check newsbot's loader builds what PyYAML's CSafeLoader builds, or fails as it does."""
    from bot.parsing import SafeLoader

    try:
        expected = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as error:
        with pytest.raises(type(error)):
            yaml.load(text, Loader=SafeLoader)
        return
    for _ in range(times):
        built = yaml.load(text, Loader=SafeLoader)
        assert built == expected or repr(built) == repr(expected)  # repr: .nan != .nan


def test_aliases_that_expand_to_billions_of_values_are_rejected() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    with pytest.raises(ArticleError, match="invalid YAML: its aliases expand to over 100,000"):
        parse_article(_with_fields(*lines))  # 9 ** 10 values: this never ended before


@pytest.mark.parametrize(
    "line",
    [
        "loop: &x [1, *x]",
        "loop: &x {a: *x}",
        'related: &r [{title: a, webUrl: "https://e.com/a", images: *r}]',
    ],
)
def test_an_alias_inside_its_own_value_is_rejected(line: str) -> None:
    with pytest.raises(ArticleError, match="an alias refers to a value that contains it"):
        parse_article(_with_fields(line))


def test_ordinary_aliases_are_fine() -> None:
    draft = parse_article(
        _with_fields(
            'picture: &p {url: "https://img.example.com/1.png", width: 10}',
            "images: [*p]",
            'related: [{title: R, webUrl: "https://e.com/r", images: [*p]}]',
        )
    )
    assert draft.images[0].url == draft.related[0].images[0].url == "https://img.example.com/1.png"
    assert draft.extra == {"picture": {"url": "https://img.example.com/1.png", "width": 10}}


_TIMESTAMPISH = st.from_regex(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([Tt ][0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{1,2}(:[0-9]{2})?)?)?",
    fullmatch=True,
)


@settings(max_examples=300)
@given(_TIMESTAMPISH, st.sampled_from(["publishedDateTime", "extra"]))
def test_any_date_like_value_parses_or_is_rejected_with_a_reason(value: str, field: str) -> None:
    # YAML reads these as timestamps, so 2026-13-45 or 0001-01-01 00:00:00+01:00 come
    # through PyYAML's date constructor, which raised ValueError and OverflowError.
    with contextlib.suppress(ArticleError):
        parse_article(_with_fields(f"{field}: {value}"))  # a second publishedDateTime wins


def test_unknown_fields_of_any_yaml_shape_are_kept_as_strict_json() -> None:
    draft = parse_article(
        _with_fields(
            "dates: {2022-01-01: a, 1: b, null: c}",
            "odd: [.nan, .inf, !!binary aGVsbG8=, 2026-11-26T10:00:00Z]",
        )
    )
    assert draft.extra == {
        "dates": {"2022-01-01": "a", "1": "b", "null": "c"},
        "odd": ["nan", "inf", "aGVsbG8=", "2026-11-26T10:00:00+00:00"],
    }
    json.loads(json.dumps(draft.extra, allow_nan=False))  # strict JSON: no NaN, no bytes


@pytest.mark.parametrize("written", ["1:30", "010", "0x1F", "1_000", "1.10", "-0", "yes", "1984"])
def test_text_fields_keep_their_text_as_written(written: str) -> None:
    # YAML would read these as numbers or booleans: 1:30 is 90 in base 60, 010 is 8.
    draft = parse_article(_with_fields(f"title: {written}", f"secured: {written}"))
    assert (draft.title, draft.secured) == (written, written)
