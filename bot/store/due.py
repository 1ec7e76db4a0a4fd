"""What is due where: the rules that decide whether an article goes to a channel, written once.

An article is due in a channel when one of the channel's subscriptions holds every rule of
``rules`` for it. Each rule is one SQL condition over ``s`` (the subscription) and ``a``
(the article), and every statement that asks "is it due?" is built from that one list:

- ``DueStatements.plan``: what a run posts (and ``/post preview``, ``newsbot post
  --dry-run``): every rule, over the channel's candidates;
- ``DueStatements.verdicts``: what ``/news why`` says: each rule's answer for one article
  and each of a server's subscriptions, the first that fails naming the reason;
- ``DueStatements.fill``: which of a topic's articles become candidates again when a
  subscription's options change.

Candidates (the ``candidates`` table) are what keeps planning in proportion to what is
new rather than to the archive: a (channel, article, subscription) row is added when an
article on the subscription's topic is stored, picked as its backfill, or when its options
change; it goes when the article is delivered or refused there, or when a *lasting* rule
fails (one that stays failed until the article or the subscription changes, and either
change adds the row again). A row is never needed for a verdict: ``/news why`` checks the
rules on the tables themselves, which is how a test catches a candidate gone missing.

What a run decides beyond these rules (the best article of a story that is due twice in
one run, the daily cap, ``NEWSBOT_MAX_PER_RUN``) is decided by the planner in
``bot.posting``, which ``/news why`` asks as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Why an article is not due for a subscription: the rule it fails.
Reason = Literal[
    "not_on_topic", "delivered", "refused", "published_at_source", "quality_unknown",
    "below_threshold", "before_subscription", "provider_not_listed", "provider_excluded",
    "not_included", "excluded", "same_story", "paused", "queued",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rule:
    """One condition an article must meet to be due for a subscription."""

    reason: Reason  # what failing it is called
    holds: str  # SQL over s (the subscription) and a (the article): true when it is met
    lasting: bool  # failed, it stays failed until the article or the subscription changes


@dataclass(frozen=True, slots=True)
class Dialect:
    """What the two databases spell differently in the rules."""

    # Each article of each outbox message as rows: o the message, j.value an article id.
    outbox_articles: str
    # True when article a matches the compiled filter query in the column named {query}.
    matches: str


_ON_TOPIC = """EXISTS (
    SELECT 1 FROM article_topics AS at JOIN topics AS t ON t.id = at.topic_id
    WHERE at.article_id = a.id AND t.key = s.topic_key)"""
_NOT_DELIVERED = """NOT EXISTS (
    SELECT 1 FROM deliveries AS d WHERE d.article_id = a.id AND d.channel_id = s.channel_id)"""
_NOT_REFUSED = """NOT EXISTS (
    SELECT 1 FROM refusals AS r WHERE r.article_id = a.id AND r.channel_id = s.channel_id)"""
_SINCE_SUBSCRIBED = """a.loaded_at >= s.created_at OR EXISTS (
    SELECT 1 FROM backfill AS b WHERE b.subscription_id = s.id AND b.article_id = a.id)"""
_PROVIDER_LISTED = """NOT EXISTS (
    SELECT 1 FROM subscription_providers AS sp
    WHERE sp.subscription_id = s.id AND sp.rule = 'only') OR EXISTS (
    SELECT 1 FROM subscription_providers AS sp JOIN providers AS p ON p.domain = sp.domain
    WHERE sp.subscription_id = s.id AND sp.rule = 'only' AND p.id = a.provider_id)"""
_PROVIDER_NOT_EXCLUDED = """NOT EXISTS (
    SELECT 1 FROM subscription_providers AS sp JOIN providers AS p ON p.domain = sp.domain
    WHERE sp.subscription_id = s.id AND sp.rule = 'never' AND p.id = a.provider_id)"""
# The same story: the article lists a delivered one in its related coverage, or a
# delivered one lists it (compared by canonical URL).
_NEW_STORY = """s.same_story = 'post' OR (NOT EXISTS (
    SELECT 1 FROM related AS rel JOIN articles AS other ON other.url = rel.story_url
    WHERE rel.article_id = a.id AND other.id <> a.id AND EXISTS (
        SELECT 1 FROM deliveries AS d
        WHERE d.article_id = other.id AND d.channel_id = s.channel_id))
  AND NOT EXISTS (
    SELECT 1 FROM related AS rel
    WHERE rel.story_url = a.url AND rel.article_id <> a.id AND EXISTS (
        SELECT 1 FROM deliveries AS d
        WHERE d.article_id = rel.article_id AND d.channel_id = s.channel_id)))"""
_NOT_QUEUED = """NOT EXISTS (
    SELECT 1 FROM {outbox_articles} WHERE o.channel_id = s.channel_id AND j.value = a.id)"""


def rules(dialect: Dialect) -> tuple[Rule, ...]:
    """Return the rules, in the order ``/news why`` checks them."""
    include = dialect.matches.format(query="s.include_match")
    exclude = dialect.matches.format(query="s.exclude_match")
    return (
        Rule("not_on_topic", _ON_TOPIC, lasting=True),
        Rule("delivered", _NOT_DELIVERED, lasting=True),
        Rule("refused", _NOT_REFUSED, lasting=True),
        Rule("published_at_source", "NOT a.source_published", lasting=True),
        Rule("quality_unknown", "a.quality IS NOT NULL", lasting=True),
        Rule("below_threshold", "a.quality >= s.min_quality", lasting=True),
        Rule("before_subscription", _SINCE_SUBSCRIBED, lasting=True),
        Rule("provider_not_listed", _PROVIDER_LISTED, lasting=True),
        Rule("provider_excluded", _PROVIDER_NOT_EXCLUDED, lasting=True),
        Rule("not_included", f"s.include_match IS NULL OR {include}", lasting=True),
        Rule("excluded", f"s.exclude_match IS NULL OR NOT {exclude}", lasting=True),
        Rule("same_story", _NEW_STORY, lasting=True),
        Rule("paused", "s.paused_reason IS NULL", lasting=False),
        Rule("queued", _NOT_QUEUED.format(outbox_articles=dialect.outbox_articles), lasting=False),
    )


#: The rules of a subscription's filter queries (``include``, ``exclude``): lasting ones.
FILTERS: tuple[Reason, ...] = ("not_included", "excluded")


def _all(rules: tuple[Rule, ...]) -> str:
    """Return the rules joined with AND, those without a subquery first (cheapest first)."""
    cheapest_first = sorted(rules, key=lambda rule: rule.holds.count("SELECT"))
    return " AND ".join(f"({rule.holds})" for rule in cheapest_first) or "1 = 1"


def _flag(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


@dataclass(frozen=True, slots=True)
class DueStatements:
    """The statements built from the rules, for one database."""

    rules: tuple[Rule, ...]
    # A channel's candidates, best first, each with whether it holds the lasting rules
    # (but the filter queries, checked when it was made) and the others. Parameters:
    # channel id; with plan_of_topic, then a topic key.
    plan: str
    plan_of_topic: str
    # Each rule's answer (1 or 0, in ``rules`` order, as columns r0, r1, ...) for one
    # article and each of a server's subscriptions on one of its topics. Parameters:
    # article id, guild id.
    verdicts: str
    # Make candidates of a subscription's articles that hold its lasting rules, and drop
    # those that no longer do. Parameters: subscription id (each).
    fill: str
    forget: str
    # fill for a subscription just made: only its backfill and what was stored since can
    # be due, so the topic's archive is not read. Parameters: subscription id.
    fill_new: str


def statements(dialect: Dialect) -> DueStatements:
    """Return the statements of ``dialect``'s database, built from the one list of rules."""
    every = rules(dialect)
    lasting = _all(tuple(r for r in every if r.lasting))
    # The filter queries are checked when a candidate is made, and made again whenever
    # the article or the subscription changes (candidates_of_stored, fill): a full-text
    # lookup per candidate would make planning follow the size of the index.
    unfiltered = _all(tuple(r for r in every if r.lasting and r.reason not in FILTERS))
    passing = _all(tuple(r for r in every if not r.lasting))
    plan = f"""
SELECT c.article_id, c.subscription_id, s.mode,
    {_flag(unfiltered)} AS lasting, {_flag(passing)} AS passing
FROM candidates AS c
JOIN subscriptions AS s ON s.id = c.subscription_id
JOIN articles AS a ON a.id = c.article_id
WHERE c.channel_id = ? {{topic_filter}}
ORDER BY a.quality DESC, a.published_at DESC, a.id, s.id
"""
    columns = ", ".join(f"{_flag(rule.holds)} AS r{i}" for i, rule in enumerate(every))
    verdicts = f"""
SELECT s.id AS subscription_id, {columns}
FROM subscriptions AS s, articles AS a
WHERE a.id = ? AND s.guild_id = ? AND s.topic_key IN (
    SELECT t.key FROM article_topics AS at JOIN topics AS t ON t.id = at.topic_id
    WHERE at.article_id = a.id)
ORDER BY s.channel_id, s.topic_key
"""
    fill = f"""
INSERT INTO candidates (channel_id, article_id, subscription_id)
SELECT s.channel_id, a.id, s.id FROM subscriptions AS s
JOIN topics AS t ON t.key = s.topic_key
JOIN article_topics AS at ON at.topic_id = t.id
JOIN articles AS a ON a.id = at.article_id
WHERE s.id = ? AND {lasting}
ON CONFLICT DO NOTHING
"""
    fill_new = f"""
INSERT INTO candidates (channel_id, article_id, subscription_id)
SELECT s.channel_id, a.id, s.id FROM subscriptions AS s
JOIN articles AS a ON a.id IN (
    SELECT b.article_id FROM backfill AS b WHERE b.subscription_id = s.id
    UNION SELECT l.id FROM articles AS l WHERE l.loaded_at >= s.created_at)
WHERE s.id = ? AND {lasting}
ON CONFLICT DO NOTHING
"""
    forget = f"""
DELETE FROM candidates WHERE subscription_id = ? AND NOT EXISTS (
    SELECT 1 FROM subscriptions AS s, articles AS a
    WHERE s.id = candidates.subscription_id AND a.id = candidates.article_id AND {lasting})
"""
    return DueStatements(
        rules=every,
        plan=plan.format(topic_filter=""),
        plan_of_topic=plan.format(topic_filter="AND s.topic_key = ?"),
        verdicts=verdicts,
        fill=fill,
        forget=forget,
        fill_new=fill_new,
    )


# Rules an article's own fields decide, checked when it is stored: an article that fails
# one for a subscription is no candidate there (storing it again with other fields, or
# changing the subscription, weighs it again).
_CHECKED_ON_STORING: tuple[Reason, ...] = (
    "published_at_source", "quality_unknown", "below_threshold", *FILTERS,
)  # fmt: skip


def candidates_of_stored(dialect: Dialect, articles: str) -> tuple[str, str]:
    """Return the statements that weigh articles just stored (or stored again) afresh: one
    drops their candidates, one makes a candidate for each subscription on one of their
    topics that the article's own fields (and text) do not rule out.

    ``articles``: a condition on ``a`` (articles) that picks the stored batch; each
    statement binds its parameters once. The filter queries are checked here, when an
    article is stored, and when a subscription's options change (``fill``), so that
    planning never needs the full-text index; ``dialect.matches`` may name an index of
    just the batch.
    """
    checked = _all(tuple(r for r in rules(dialect) if r.reason in _CHECKED_ON_STORING))
    forget = (
        "DELETE FROM candidates WHERE article_id IN "
        f"(SELECT a.id FROM articles AS a WHERE {articles})"
    )
    make = f"""
INSERT INTO candidates (channel_id, article_id, subscription_id)
SELECT s.channel_id, a.id, s.id FROM articles AS a
JOIN article_topics AS at ON at.article_id = a.id
JOIN topics AS t ON t.id = at.topic_id
JOIN subscriptions AS s ON s.topic_key = t.key
WHERE ({articles}) AND {checked}
ON CONFLICT DO NOTHING
"""
    return forget, make


# The candidates an outbox message settled (delivered or refused). Parameters: nonce twice.
# {outbox_articles} as in Dialect.
FORGET_SENT = """
DELETE FROM candidates
WHERE channel_id = (SELECT channel_id FROM outbox WHERE nonce = ?)
  AND article_id IN (SELECT j.value FROM {outbox_articles} WHERE o.nonce = ?)
"""
# Forget candidates found stale by a plan. Parameters: channel id, article id, subscription id.
FORGET_CANDIDATE = (
    "DELETE FROM candidates WHERE channel_id = ? AND article_id = ? AND subscription_id = ?"
)
# Posts (messages) a channel got since a time. Parameters: channel id, time.
POSTS_SINCE = (
    "SELECT count(DISTINCT message_id) FROM deliveries WHERE channel_id = ? AND delivered_at >= ?"
)
# The earliest delivered article of an article's story in a channel: its URL and delivery.
# Parameters: channel id, then the article id three times.
STORY_DELIVERY = """
SELECT other.url, d.article_id, d.channel_id, d.guild_id, d.message_id, d.delivered_at
FROM deliveries AS d JOIN articles AS other ON other.id = d.article_id
WHERE d.channel_id = ? AND d.article_id <> ? AND other.id IN (
    SELECT o.id FROM related AS rel JOIN articles AS o ON o.url = rel.story_url
    WHERE rel.article_id = ?
    UNION
    SELECT rel.article_id FROM related AS rel JOIN articles AS mine ON rel.story_url = mine.url
    WHERE mine.id = ?)
ORDER BY d.delivered_at LIMIT 1
"""
