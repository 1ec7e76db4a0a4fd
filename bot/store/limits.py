"""Numbers every storage backend honours, so that a command answers the same on each.

Backends read them as ``limits.NAME`` when they run, so a test can lower one for all.
"""

MAX_SUGGESTIONS = 25  # Discord shows at most 25 autocomplete choices
SEARCH_CAP = 1000  # a search counts, and ranks by relevance, at most this many matches
BACKLOG_WINDOW = 20  # a new subscription's backfill is the best of this many newest articles
COMMON_SAMPLE = 1000  # newest articles that tell whether a search word is too common to rank
