"""Article identity: the canonical URL decides when two files are the same article."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.articles import canonical_url, is_web_url, topic_key


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://WWW.Example.COM/Path/", "https://www.example.com/Path"),
        ("https://example.com/a?utm_source=x&id=7&UTM_Medium=y#top", "https://example.com/a?id=7"),
        ("https://example.com/a?fbclid=abc&gclid=def", "https://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a/", "http://example.com:8080/a"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com", "https://example.com"),
        ("https://example.com/a?b=1&utm_campaign=z&c=2", "https://example.com/a?b=1&c=2"),
        ("  https://example.com/x  ", "https://example.com/x"),
    ],
)
def test_canonical_url_normalises_what_does_not_identify_an_article(
    url: str, expected: str
) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "ftp://example.com/a", "example.com/a", "", "https://", "http://:80"],
)
def test_canonical_url_rejects_anything_but_web_urls(url: str) -> None:
    assert not is_web_url(url)
    with pytest.raises(ValueError):
        canonical_url(url)


def test_topic_key_ignores_case_and_spacing() -> None:
    assert topic_key("  Open   Source ") == topic_key("open source") == "open source"
    assert topic_key("AI") == topic_key("ai")


_hosts = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}(\.[A-Za-z]{2,5}){1,2}", fullmatch=True)
_segments = st.lists(st.from_regex(r"[A-Za-z0-9._~%-]{0,8}", fullmatch=True), max_size=4)
_params = st.lists(
    st.tuples(
        st.sampled_from(["id", "page", "utm_source", "UTM_term", "fbclid", "gclid", "q", "x"]),
        st.from_regex(r"[A-Za-z0-9%+._-]{0,6}", fullmatch=True),
    ),
    max_size=5,
)


@st.composite
def web_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8443"]))
    path = "/".join(draw(_segments))
    trailing = draw(st.sampled_from(["", "/", "//"]))
    query = "&".join(f"{k}={v}" for k, v in draw(_params))
    fragment = draw(st.sampled_from(["", "#", "#section-2"]))
    return (
        f"{scheme}://{draw(_hosts)}{port}/{path}{trailing}"
        + (f"?{query}" if query else "")
        + fragment
    )


@given(web_urls())
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@given(web_urls())
def test_canonical_url_drops_fragments_tracking_and_trailing_slashes(url: str) -> None:
    result = canonical_url(url)
    assert "#" not in result
    assert not result.endswith("/")
    query = result.partition("?")[2]
    keys = [param.split("=")[0].lower() for param in query.split("&") if param]
    assert not any(k.startswith("utm_") or k in {"fbclid", "gclid"} for k in keys)
    scheme, _, rest = result.partition("://")
    assert scheme in {"http", "https"}
    host = rest.split("/")[0].split("?")[0]
    assert host == host.lower()


@given(web_urls(), st.sampled_from(["utm_source=news", "fbclid=1", "gclid=2"]))
def test_tracking_parameters_never_change_the_identity(url: str, tracking: str) -> None:
    base, _, _fragment = url.partition("#")
    separator = "&" if "?" in base else "?"
    assert canonical_url(f"{base}{separator}{tracking}") == canonical_url(base)
