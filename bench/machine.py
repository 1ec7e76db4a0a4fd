"""What every benchmark records about the machine it ran on (Linux), and how it stops the
processes it starts there."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import signal
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def describe(**libraries: object) -> dict[str, Any]:
    """Describe the machine, Python, SQLite and the given ``libraries`` (name=version)."""
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text(encoding="utf-8", errors="replace")
    memory = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "cores_allowed": len(os.sched_getaffinity(0)),
        "ram_gib": round(int(memory.group(1)) / 2**20, 1) if memory else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        **libraries,
    }


async def stop_process(process: asyncio.subprocess.Process, grace: float = 60.0) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it has not exited ``grace`` s later."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        process.kill()
        await process.wait()
