"""The newsbot command line: what an admin sees, and the exit statuses scripts rely on."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import StoreError
from bot.store.sqlite.articles import SqliteArticles
from tests.factories import article_text, write_article

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every command in an empty directory with no newsbot settings in the environment."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "NEWSBOT_DB",
        "NEWSBOT_DATA_DIR",
        "NEWSBOT_MAX_FILE_BYTES",
        "NEWSBOT_LOAD_WORKERS",
    ):
        monkeypatch.delenv(name, raising=False)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_load_exits_0_when_every_file_is_stored(
    articles_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_article(articles_dir, "a.md", 1)
    write_article(articles_dir, "b.md", 2)
    assert main(["--db", "x.db", "load", str(articles_dir)]) == 0
    out = capsys.readouterr().out
    assert "Loaded 2 files in" in out and "2 added, 0 updated, 0 unchanged, 0 rejected" in out
    assert main(["--db", "x.db", "load", str(articles_dir)]) == 0
    assert "0 added, 0 updated, 2 unchanged, 0 rejected" in capsys.readouterr().out


def test_load_exits_1_and_names_each_rejected_file(
    articles_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_article(articles_dir, "good.md", 1)
    (articles_dir / "bad.md").write_text(
        article_text(2, originalUrl="javascript:alert(1)", webUrl=None)
    )
    assert main(["--db", "x.db", "load", str(articles_dir)]) == 1
    captured = capsys.readouterr()
    assert (
        f"{articles_dir / 'bad.md'}: field 'originalUrl': only http and https URLs" in captured.err
    )
    assert "1 added, 0 updated, 0 unchanged, 1 rejected" in captured.out
    assert main(["--db", "x.db", "topics"]) == 0  # the good file is stored


def test_a_database_that_cannot_take_the_write_exits_2_with_one_line(
    articles_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_article(articles_dir, "a.md", 1)

    async def disk_full(*args: object) -> None:
        raise StoreError("cannot write to x.db: database or disk is full")

    monkeypatch.setattr(SqliteArticles, "save", disk_full)
    assert main(["--db", "x.db", "load", str(articles_dir)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "newsbot: cannot write to x.db: database or disk is full. "
        "The files loaded before are kept: load again to finish\n"
    )


def test_load_json_report(articles_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_article(articles_dir, "a.md", 1)
    write_article(articles_dir, "copy.md", 1)
    (articles_dir / "bad.md").write_text("---\n- a list\n---\n")
    (articles_dir / "README.rst").write_text("not an article")
    assert main(["--db", "x.db", "load", "--json", str(articles_dir)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in ("files", "added", "updated", "unchanged", "rejected", "skipped")} == {
        "files": 3, "added": 1, "updated": 1, "unchanged": 0, "rejected": 1, "skipped": 1,
    }  # fmt: skip
    assert report["rejections"] == [
        {
            "path": str(articles_dir / "bad.md"),
            "reason": "front matter must be a mapping of fields, got a list",
        }
    ]
    assert report["duplicates"][0]["path"] == str(articles_dir / "copy.md")
    assert report["duplicates"][0]["url"] == "https://news.example.com/2026/article-1"


def test_usage_errors_exit_2() -> None:
    missing = run("--db", "x.db", "load", "no/such/dir")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "newsbot: no/such/dir: no such file or directory"
    bad_limit = run("news", "AI", "--limit", "lots")
    assert bad_limit.returncode == 2 and "expected a whole number, got 'lots'" in bad_limit.stderr
    assert run("frobnicate").returncode == 2
    assert "Traceback" not in missing.stderr + bad_limit.stderr


def test_an_unusable_database_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("not sqlite" * 200)
    result = run("--db", "notes.db", "topics")
    assert result.returncode == 2
    assert result.stderr.startswith("newsbot: cannot use database notes.db:")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://bot:s3cret-pw@127.0.0.1:99999/news", "port"),
        ("postgresql://bot:s3cret-pw@/news", "host"),
        ("mysql://bot:s3cret-pw@db.example/news", "not mysql"),
    ],
)
def test_a_database_url_that_cannot_be_used_exits_2_without_its_password(
    url: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for where in (("--db", url, "topics"), ("topics",)):
        env = {"NEWSBOT_DB": url} if len(where) == 1 else {}
        result = subprocess.run(
            [sys.executable, "-m", "bot", *where], capture_output=True, text=True, timeout=60,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr
        assert "s3cret-pw" not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr
    assert list(Path().iterdir()) == []  # no SQLite file named after the URL


def test_database_from_environment_and_dotenv(
    tmp_path: Path, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_article(articles_dir, "a.md", 1)
    (tmp_path / ".env").write_text(
        f"# settings\nNEWSBOT_DB=from-dotenv.db\nNEWSBOT_DATA_DIR='{articles_dir}'\n"
    )
    assert main(["load"]) == 0  # data directory from .env
    assert (tmp_path / "from-dotenv.db").exists()
    monkeypatch.setenv("NEWSBOT_DB", "from-env.db")
    assert main(["load"]) == 0
    assert (tmp_path / "from-env.db").exists()  # the environment wins over .env
    assert main(["--db", "flag.db", "load"]) == 0
    assert (tmp_path / "flag.db").exists()  # --db wins over both


def test_a_bad_setting_exits_2_with_its_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSBOT_LOAD_WORKERS", "many")
    assert main(["topics"]) == 2
    assert "NEWSBOT_LOAD_WORKERS must be a whole number, got 'many'" in capsys.readouterr().err


@pytest.fixture
def loaded(articles_dir: Path) -> None:
    outlet = {"name": "Orbital Times", "domain": "orbitaltimes.example.org"}
    write_article(
        articles_dir,
        "1.md",
        1,
        title="Rocket reaches orbit",
        topics=["Space"],
        provider=outlet,
        quality=80,
    )
    write_article(
        articles_dir, "2.md", 2, title="Chip fab opens", topics=["Semiconductors", "AI"], quality=40
    )
    write_article(
        articles_dir, "3.md", 3, title="\x1b[31mRed\x1b[0m alert", topics=["AI"], quality=None
    )
    assert main(["--db", "x.db", "load", str(articles_dir)]) == 0


@pytest.mark.usefixtures("loaded")
def test_topics_and_providers_tables(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--db", "x.db", "topics"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TOPIC", "ARTICLES"]
    assert [line.split() for line in lines[1:]] == [
        ["AI", "2"],
        ["Semiconductors", "1"],
        ["Space", "1"],
    ]
    assert main(["--db", "x.db", "providers"]) == 0
    out = capsys.readouterr().out
    assert "Orbital Times  orbitaltimes.example.org         1" in out
    assert "Example News   news.example.com                 2" in out


@pytest.mark.usefixtures("loaded")
def test_news_by_topic_with_quality_filter(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--db", "x.db", "news", "ai"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("AI: 1 to 2 of 2\n")
    assert "Chip fab opens" in out and "https://news.example.com/2026/article-2" in out
    assert "\x1b" not in out  # no terminal escapes from article text
    assert main(["--db", "x.db", "news", "AI", "--min-quality", "50"]) == 1
    assert "No articles on AI of quality 50 or more." in capsys.readouterr().err


@pytest.mark.usefixtures("loaded")
def test_unknown_topic_or_provider_gets_a_one_line_hint(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--db", "x.db", "news", "spcae"]) == 1
    assert (
        capsys.readouterr().err == "No topic 'spcae'. Did you mean 'Space'? See: newsbot topics\n"
    )
    assert main(["--db", "x.db", "provider", "orbital tims"]) == 1
    assert capsys.readouterr().err == (
        "No provider 'orbital tims'. Did you mean 'Orbital Times'? See: newsbot providers\n"
    )
    assert main(["--db", "x.db", "news", "zzzz"]) == 1
    assert capsys.readouterr().err == "No topic 'zzzz'. See: newsbot topics\n"


@pytest.mark.usefixtures("loaded")
def test_provider_and_search(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--db", "x.db", "provider", "ORBITALTIMES.example.org"]) == 0
    assert "Rocket reaches orbit" in capsys.readouterr().out
    assert main(["--db", "x.db", "search", "rocket", "orbit"]) == 0
    out = capsys.readouterr().out
    assert "Rocket reaches orbit" in out and "Chip fab" not in out
    assert main(["--db", "x.db", "search", 'NEAR("rocket" *']) == 0
    assert main(["--db", "x.db", "search", "🙂"]) == 1
    assert "Nothing matches" in capsys.readouterr().err


def test_empty_database_says_how_to_load(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", "x.db", "topics"]) == 1
    assert (
        capsys.readouterr().err
        == "No topics yet. Load articles first: newsbot load data/articles\n"
    )


def test_post_dry_run_lists_what_the_next_run_would_post(
    articles_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bot.store import open_store

    async def subscribe() -> None:
        async with await open_store("x.db") as store:
            await store.subscriptions.subscribe(
                guild_id=7 << 22, channel_id=42, topic="Space", min_quality=50
            )

    assert main(["--db", "x.db", "post", "--dry-run"]) == 0
    assert capsys.readouterr().out == "Nothing is due: the next run would post nothing.\n"
    write_article(articles_dir, "old.md", 1, topics=["Space"])  # loaded before subscribing
    assert main(["--db", "x.db", "load", str(articles_dir)]) == 0
    asyncio.run(subscribe())
    write_article(
        articles_dir, "new.md", 2, title="Fresh rocket news", topics=["Space"], quality=77
    )
    write_article(articles_dir, "low.md", 3, topics=["Space"], quality=10)
    assert main(["--db", "x.db", "load", str(articles_dir)]) == 0
    capsys.readouterr()
    assert main(["--db", "x.db", "post", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "The next run would post 1 article to 1 channel:"
    assert out[1].split() == ["SERVER", "CHANNEL", "QUALITY", "PROVIDER", "TITLE"]
    assert out[2].split()[:3] == [str(7 << 22), "42", "77"] and out[2].endswith("Fresh rocket news")
    assert out[3].strip() == "https://news.example.com/2026/article-2"


def test_post_without_dry_run_is_a_usage_error() -> None:
    result = run("post")
    assert result.returncode == 2 and "--dry-run" in result.stderr


def test_output_cut_short_by_a_pipe_ends_quietly(tmp_path: Path) -> None:
    # `newsbot topics | head`: more topics than a pipe holds, and a reader that stops early.
    folder = tmp_path / "many"
    for n in range(120):
        topics = [f"Topic {n:03d}-{k:02d} with a long enough name" for k in range(40)]
        write_article(folder, f"{n:03d}.md", n, topics=topics)
    assert run("--db", str(tmp_path / "n.db"), "load", str(folder)).returncode == 0
    command = [sys.executable, "-m", "bot", "--db", str(tmp_path / "n.db"), "topics"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as cli:
        assert cli.stdout is not None and cli.stderr is not None
        assert cli.stdout.readline().split() == [b"TOPIC", b"ARTICLES"]
        cli.stdout.close()
        errors = cli.stderr.read().decode()
        status = cli.wait(timeout=60)
    assert "Traceback" not in errors and "Exception" not in errors, errors
    assert status == 141


@pytest.mark.usefixtures("loaded")
def test_an_offset_past_the_end_says_how_many_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--db", "x.db", "news", "AI", "--offset", "5"]) == 1
    assert capsys.readouterr().err == "Nothing at --offset 5: there are 2.\n"


@pytest.mark.usefixtures("loaded")
def test_arguments_that_are_not_utf8_and_a_terminal_that_is_not_either(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bot", "--db", str(tmp_path / "x.db")]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "ascii"}
    odd = subprocess.run([*command, "news", b"Spa\xffce"], capture_output=True, env=env)
    assert odd.returncode == 1
    assert odd.stderr == b"No topic 'Spa?ce'. Did you mean 'Space'? See: newsbot topics\n"
    listing = subprocess.run([*command, "news", "AI"], capture_output=True, env=env)
    assert listing.returncode == 0 and b"Traceback" not in listing.stderr
    assert listing.stdout.startswith(b"AI: 1 to 2 of 2\n")


def test_load_output_names_odd_files_on_one_line_without_terminal_escapes(
    articles_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (articles_dir / "bad\x1b[31mRED\nfake: line.md").write_text("no front matter")
    write_article(articles_dir, "a.md", 1, originalUrl="https://a.example.com/\x1b]0;PWNED\x07")
    write_article(articles_dir, "b.md", 2, originalUrl="https://a.example.com/\x1b]0;PWNED\x07")
    assert main(["--db", "x.db", "load", str(articles_dir)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert len(err.splitlines()) == 2  # one line per rejected file, one per duplicate


@pytest.mark.usefixtures("loaded")
def test_a_database_damaged_behind_newsbots_back_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = sqlite3.connect("x.db")
    db.execute("DROP TABLE topic_quality_counts")  # as a half-restored backup might be
    db.commit()
    db.close()
    capsys.readouterr()
    assert main(["--db", "x.db", "news", "AI", "--min-quality", "10"]) == 2
    assert capsys.readouterr().err == (
        "newsbot: cannot use database x.db: no such table: topic_quality_counts\n"
    )


def test_load_full_finds_an_edit_that_kept_size_and_time(
    articles_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_article(articles_dir, "a.md", 1, quality=10)
    assert main(["--db", "x.db", "load", str(articles_dir)]) == 0
    before = path.stat()
    path.write_text(path.read_text().replace("quality: 10", "quality: 90"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as `cp -p` or rsync -t do
    capsys.readouterr()
    assert main(["--db", "x.db", "load", str(articles_dir)]) == 0
    assert "0 updated, 1 unchanged" in capsys.readouterr().out  # size and time say unchanged
    assert main(["--db", "x.db", "load", "--full", str(articles_dir)]) == 0
    assert "1 updated, 0 unchanged" in capsys.readouterr().out
    assert main(["--db", "x.db", "load", "--full", str(articles_dir)]) == 0
    assert "0 updated, 1 unchanged" in capsys.readouterr().out  # read again, same bytes


def test_every_lookup_command_works_on_a_postgresql_url(
    postgres_url: str, articles_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_article(
        articles_dir, "1.md", 1, title="Rocket reaches orbit", topics=["Space"], quality=80
    )
    write_article(articles_dir, "2.md", 2, title="Chip fab opens", topics=["AI"], quality=70)
    assert main(["--db", postgres_url, "load", str(articles_dir)]) == 0
    assert "2 added" in capsys.readouterr().out
    assert main(["--db", postgres_url, "load", str(articles_dir)]) == 0  # incremental
    assert "2 unchanged" in capsys.readouterr().out
    assert main(["--db", postgres_url, "topics"]) == 0
    assert {"Space", "AI"} <= set(capsys.readouterr().out.split())
    assert main(["--db", postgres_url, "search", "rocket"]) == 0
    assert "Rocket reaches orbit" in capsys.readouterr().out
    assert main(["--db", postgres_url, "news", "AI"]) == 0
    assert "Chip fab opens" in capsys.readouterr().out
    assert main(["--db", postgres_url, "post", "--dry-run"]) == 0
