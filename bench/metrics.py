"""What the metrics add to one slash command, against the same command's bare work.

The lookup benchmark's figure of merit is a lookup's p50 (under a millisecond); the
metrics add, per command, a timestamp in ``interaction_check``, one log-context tag, and
one histogram observation (plus a counter on errors). This times those, in this process,
against a baseline of the same loop doing nothing, and prints the difference per command
(issue 11's target: the lookup p50 moves by at most 0.1 ms).

    .venv/bin/python bench/metrics.py [--commands N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.logs import tag_task
from bot.metrics import Metrics

COMMANDS = ("news topic", "news provider", "news search", "news latest", "subscribe")


def with_metrics(metrics: Metrics, n: int) -> float:
    """Return seconds for ``n`` commands' worth of metrics work."""
    start = time.perf_counter()
    for i in range(n):
        started = time.monotonic()  # interaction_check
        tag_task(guild_id=i, channel_id=i, shard=0)
        metrics.observe_command(COMMANDS[i % 5], time.monotonic() - started, failed=i % 50 == 0)
    return time.perf_counter() - start


def baseline(n: int) -> float:
    """Return seconds for the same loop without the metrics."""
    start = time.perf_counter()
    for i in range(n):
        started = time.monotonic()
        _ = (COMMANDS[i % 5], time.monotonic() - started, i % 50 == 0)
    return time.perf_counter() - start


def main() -> None:
    """Time both, alternating, and print the cost per command."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    metrics = Metrics()
    bare, timed = [], []
    for _ in range(args.repeat):
        bare.append(baseline(args.commands))
        timed.append(with_metrics(metrics, args.commands))
    per_command = (statistics.median(timed) - statistics.median(bare)) / args.commands
    print(
        f"{args.commands:,} commands x {args.repeat}: baseline {statistics.median(bare):.3f} s, "
        f"with metrics {statistics.median(timed):.3f} s; metrics per command "
        f"{per_command * 1e6:.1f} µs = {per_command * 1e3:.4f} ms (target <= 0.1 ms)"
    )


if __name__ == "__main__":
    main()
