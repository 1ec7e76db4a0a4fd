"""One `newsbot run` per database and shard: the locks that keep a second one out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import AlreadyRunning, StoreError
from bot.runlock import running_alone

ROOT = Path(__file__).resolve().parents[1]


def test_a_second_run_on_the_same_database_is_refused_naming_the_first(tmp_path: Path) -> None:
    db = tmp_path / "newsbot.db"
    with running_alone(db):
        with pytest.raises(AlreadyRunning) as refused, running_alone(db):
            pass
        assert str(refused.value) == (
            f"another newsbot run (pid {os.getpid()}) is serving {db}; two would post the same "
            "articles twice. Stop the other one first, or give each its own NEWSBOT_SHARD_IDS."
        )
        with running_alone(tmp_path / "other.db"):  # another database is another bot
            pass
    with running_alone(db):  # released on the way out
        pass


@pytest.mark.parametrize(
    ("first", "second", "allowed"),
    [
        (None, (0,), False),  # every shard, then one of them
        ((0,), None, False),
        ((0, 1), (1, 2), False),  # shard 1 twice
        ((0, 1), (2, 3), True),  # disjoint shards side by side
    ],
)
def test_shards_may_run_side_by_side_only_when_they_do_not_overlap(
    tmp_path: Path, first: tuple[int, ...] | None, second: tuple[int, ...] | None, allowed: bool
) -> None:
    db = tmp_path / "newsbot.db"
    with running_alone(db, first):
        if allowed:
            with running_alone(db, second):
                pass
        else:
            with pytest.raises(AlreadyRunning, match="is serving"), running_alone(db, second):
                pass


def test_a_holder_killed_outright_leaves_no_lock_behind(tmp_path: Path) -> None:
    db = tmp_path / "newsbot.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time; from pathlib import Path; from bot.runlock import running_alone\n"
            "with running_alone(Path(sys.argv[1])):\n"
            "    print('locked', flush=True); time.sleep(60)\n"
        ), str(db)],
        stdout=subprocess.PIPE, text=True, env={"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(AlreadyRunning, match=f"pid {holder.pid}"), running_alone(db):
            pass
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with running_alone(db):  # kill -9 released it
        pass


def test_a_database_folder_that_cannot_hold_the_lock_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    db = tmp_path / "file" / "newsbot.db"
    with (
        pytest.raises(StoreError, match=r"cannot create the run lock .*/file/newsbot.db.lock"),
        running_alone(db),
    ):
        pass


def test_a_missing_database_folder_is_made_as_the_store_makes_it(tmp_path: Path) -> None:
    with running_alone(tmp_path / "new" / "newsbot.db"):
        assert (tmp_path / "new" / "newsbot.db.lock").is_file()
