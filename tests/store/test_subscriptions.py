"""Subscriptions: per channel and topic, per server, paused and resumed."""

from __future__ import annotations

from bot.store import Store


async def test_subscriptions_are_per_channel_and_topic_and_per_server(store: Store) -> None:
    first, created = await store.subscriptions.subscribe(
        guild_id=1, channel_id=10, topic="AI", min_quality=50
    )
    assert created and first.active
    again, created = await store.subscriptions.subscribe(
        guild_id=1, channel_id=10, topic="ai", min_quality=80
    )
    assert not created and again.id == first.id and again.min_quality == 80
    await store.subscriptions.subscribe(guild_id=1, channel_id=11, topic="AI", min_quality=50)
    await store.subscriptions.subscribe(guild_id=2, channel_id=20, topic="Space", min_quality=50)
    assert [(s.channel_id, s.topic) for s in await store.subscriptions.in_guild(1)] == [
        (10, "ai"),  # the spelling given last is shown; identity ignores case
        (11, "AI"),
    ]
    assert await store.subscriptions.suggest_topics(2, "") == ["Space"]
    # Not its server:
    assert not await store.subscriptions.unsubscribe(guild_id=2, channel_id=10, topic="AI")
    await store.subscriptions.pause(first.id, "Missing Access")
    paused = await store.subscriptions.get(guild_id=1, channel_id=10, topic="AI")
    assert paused is not None and paused.paused_reason == "Missing Access" and not paused.active
    await store.subscriptions.resume(first.id)
    resumed = await store.subscriptions.get(guild_id=1, channel_id=10, topic="AI")
    assert resumed is not None and resumed.active
    assert await store.subscriptions.remove_channel(10) == 1
    assert await store.subscriptions.remove_guild(1) == 1
    assert await store.subscriptions.in_guild(1) == []
    assert len(await store.subscriptions.in_guild(2)) == 1
