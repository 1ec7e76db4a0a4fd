"""Rows for the store: the text kept for times, images and providers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from bot.articles import Image, Provider
from bot.store.rows import format_time, images_json, provider_json

_IMAGES = st.lists(
    st.builds(
        Image,
        url=st.text(),
        width=st.none() | st.integers(1, 10**12),
        height=st.none() | st.integers(1, 10**12),
        is_cached=st.booleans(),
    ),
    max_size=4,
)
_ZONES = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-23 * 60, 23 * 60)
)
_MOMENTS = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_ZONES
)


@given(_IMAGES)
def test_images_are_kept_as_the_json_of_the_article_file_keys(images: list[Image]) -> None:
    expected = [
        {"url": i.url, "width": i.width, "height": i.height, "isCached": i.is_cached}
        for i in images
    ]
    assert json.loads(images_json(images)) == expected
    assert images_json(images) == json.dumps(expected)


@given(st.builds(Provider, name=st.text(), domain=st.text()))
def test_a_provider_is_kept_as_json(provider: Provider) -> None:
    assert provider_json(provider) == json.dumps({"name": provider.name, "domain": provider.domain})


@given(_MOMENTS, _MOMENTS)
def test_stored_times_are_utc_fixed_width_and_sort_as_time(
    first: datetime, second: datetime
) -> None:
    a, b = format_time(first), format_time(second)
    assert len(a) == len("2026-11-26T05:31:38.000000Z") and a.endswith("Z")
    assert datetime.fromisoformat(a) == first
    assert (a < b) == (first < second)


def test_a_stored_time_reads_as_people_write_it() -> None:
    moment = datetime(2026, 11, 26, 6, 30, tzinfo=timezone(timedelta(hours=1)))
    assert format_time(moment) == "2026-11-26T05:30:00.000000Z"
    assert format_time(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000000Z"
