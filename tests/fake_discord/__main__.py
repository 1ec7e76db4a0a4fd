"""Run the fake as a standalone server: ``python -m tests.fake_discord --port 0``.

Prints one JSON line to stdout once listening::

    {"port": 41234, "api_url": "http://127.0.0.1:41234/api/v10",
     "gateway_url": "ws://127.0.0.1:41234/gateway",
     "control_url": "http://127.0.0.1:41234/_control", "token": "...", "application_id": "..."}

then serves until SIGINT/SIGTERM. Drive it through the control API (see control.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from .server import FakeDiscord
from .statefile import fake_from_state


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_discord", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--state-file", type=Path, help="JSON guild setup (see statefile.py)")
    parser.add_argument("--token", help="bot token to accept (overrides the state file)")
    parser.add_argument(
        "--rate-limits", action="store_true", help="enable Discord-style rate limits"
    )
    parser.add_argument(
        "--ack-deadline", type=float, default=3.0, help="interaction ack deadline, s"
    )
    parser.add_argument("--heartbeat-interval-ms", type=int, default=41_250)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Start the fake, announce it, and wait for a signal."""
    data = json.loads(args.state_file.read_text()) if args.state_file else {}
    if args.token:
        data["token"] = args.token
    options = {
        "host": args.host,
        "port": args.port,
        "rate_limits": args.rate_limits,
        "interaction_ack_deadline": args.ack_deadline,
        "heartbeat_interval_ms": args.heartbeat_interval_ms,
    }
    fake: FakeDiscord = fake_from_state(data, **options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with fake:
        announcement = {
            "port": fake.port,
            "api_url": fake.api_url,
            "gateway_url": fake.gateway_url,
            "control_url": fake.control_url,
            "token": fake.token,
            "application_id": str(fake.application_id),
        }
        sys.stdout.write(json.dumps(announcement) + "\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
