"""Ingest benchmark: a full ``newsbot load`` measured against the bare YAML parse of its files.

Generates a deterministic synthetic corpus shaped like the seed article, then measures in
one process: the bare ``CSafeLoader`` parse of every front matter on one core (the floor),
a full load on one core, a full load with a two-process pool, and a re-run over the
unchanged corpus. Figures are ratios against the floor measured in the same run, so they
mean the same on a fast or a slow machine. Linux only (it pins itself with sched_setaffinity).

    .venv/bin/python bench/ingest.py [--files 20000] [--seed 1] [--repeat 1] [--json]
        [--backend sqlite|both]

With ``--backend both`` (the default) it then loads the same corpus into PostgreSQL (a new
database on NEWSBOT_BENCH_POSTGRES's server, or on a throwaway one: ``bench/pgserver.py``):
the store stage alone, a full load on 2 cores and an unchanged re-run, compared with
SQLite's full load on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import operator
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from machine import describe

from bot.loader import BATCH_SIZE, CHUNK_SIZE, LoadReport, ParsedFile, load_articles, parse_files
from bot.store import open_store

ROOT = Path(__file__).resolve().parent.parent
SEED_ARTICLE = ROOT / "data" / "articles" / "000_91940ccae3e3af5b.txt"
FILES_PER_FOLDER = 100
_FENCE = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)


# -- corpus -------------------------------------------------------------------------------


class Corpus:
    """Deterministic article text: a Zipf-weighted vocabulary, providers and topics."""

    def __init__(self, seed: int, vocabulary: int = 4000) -> None:
        self.rng = random.Random(seed)
        onsets = [*"bcdfghjklmnprstvwz", "br", "ch", "dr", "gr", "pl", "sh", "st", "th", "tr", ""]
        vowels = [*"aeiouaeio", "ai", "ea", "ou"]
        codas = ["", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "ng"]
        words: set[str] = set()
        while len(words) < vocabulary:
            syllables = self.rng.choice((1, 1, 2, 2, 2, 3))
            words.add("".join(self._syllable(onsets, vowels, codas) for _ in range(syllables)))
        self.words = sorted(words)
        self.rng.shuffle(self.words)
        self.cum_weights = list(itertools.accumulate(1 / rank for rank in range(1, vocabulary + 1)))
        self.providers = [
            (f"{self._cap(2)} {self.rng.choice(['News', 'Times', 'Post', 'Wire', 'Daily'])}",
             f"{self.rng.choice(self.words)}{i}.example.com")
            for i in range(50)
        ]  # fmt: skip
        self.topics = sorted({self._cap(self.rng.choice((1, 1, 2))) for _ in range(200)})

    def _syllable(self, onsets: list[str], vowels: list[str], codas: list[str]) -> str:
        return self.rng.choice(onsets) + self.rng.choice(vowels) + self.rng.choice(codas)

    def _cap(self, count: int) -> str:
        return " ".join(w.capitalize() for w in self.rng.choices(self.words, k=count))

    def text(self, chars: int) -> str:
        """Return sentences of Zipf-distributed words, about ``chars`` characters long."""
        sentences: list[str] = []
        length = 0
        while length < chars:
            words = self.rng.choices(
                self.words, cum_weights=self.cum_weights, k=self.rng.randint(6, 18)
            )
            sentence = " ".join(words).capitalize() + self.rng.choice((".", ".", ",", ";"))
            sentences.append(sentence)
            length += len(sentence) + 1
        return " ".join(sentences)[:chars].rstrip(" ,;") + "."

    def article(self, number: int) -> str:
        """Return the text of article ``number``: seed-shaped YAML front matter, no body."""
        rng, q = self.rng, json.dumps  # JSON strings are valid double-quoted YAML scalars
        when = datetime(2021, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(1_000_000))
        name, domain = rng.choice(self.providers)
        title = self.text(rng.randint(50, 90)).rstrip(".")
        slug = "-".join(title.lower().split()[:8])
        url = f"https://www.{domain}/{when:%Y/%m}/{slug}-{number}"
        lines = [
            "---", "category: news", f"title: {q(title)}", f"excerpt: {q(self.text(400))}",
            f"publishedDateTime: {when:%Y-%m-%dT%H:%M:00Z}", f"originalUrl: {q(url)}",
            f"webUrl: {q(url)}", "type: article", f"quality: {rng.randint(0, 100)}",
            f"heat: {rng.choice((-1, -1, rng.randint(0, 5000)))}",
            f"published: {rng.choice(('true', 'false'))}", "",
            "provider:", f"  name: {q(name)}", f"  domain: {domain}", "", "topics:",
            *(f"  - {q(topic)}" for topic in rng.sample(self.topics, rng.randint(1, 3))), "",
            "images:", *self._image("  ", domain, slug), "",
        ]  # fmt: skip
        related = rng.choices(range(6), weights=(1, 1, 2, 3, 5, 6))[0]
        lines.append("related:" if related else "related: []")
        for position in range(related):
            lines += self._related(f"{number}-{position}", when + timedelta(hours=position + 1))
        secured = base64.b64encode(rng.randbytes(258)).decode()
        tail = base64.b64encode(rng.randbytes(16)).decode()
        lines += ["", f'secured: "{secured};{tail}"', "---", ""]
        return "\n".join(lines)

    def _related(self, key: str, when: datetime) -> list[str]:
        """Return the YAML lines of one related item, a third of them with AMP links."""
        rng, q = self.rng, json.dumps
        name, domain = rng.choice(self.providers)
        title = self.text(rng.randint(50, 100)).rstrip(".")
        link = f"https://{domain}/news/{key}-" + "-".join(title.lower().split()[:10])
        amp = [
            f"    ampWebUrl: {q(link + '?amp')}",
            f"    cdnAmpWebUrl: {q(f'https://amp.example.net/c/s/{link[8:]}?amp')}",
        ]
        return [
            f"  - title: {q(title)}", f"    excerpt: {q(self.text(rng.randint(170, 240)))}",
            f"    publishedDateTime: {when:%Y-%m-%dT%H:%M:00Z}", f"    webUrl: {q(link)}",
            *(amp if rng.random() < 0.3 else []), "    type: article", "    provider:",
            f"      name: {q(name)}", f"      domain: {domain}",
            f"    quality: {rng.randint(0, 100)}", "    images:",
            *self._image("      ", domain, key),
        ]  # fmt: skip

    def _image(self, indent: str, host: str, name: str) -> list[str]:
        width, height = self.rng.randint(200, 3000), self.rng.randint(200, 3000)
        return [
            f'{indent}- url: "https://img.{host}/{width}x{height}/{name}.jpg"',
            f"{indent}  width: {width}", f"{indent}  height: {height}", f"{indent}  isCached: true",
        ]  # fmt: skip


def write_corpus(directory: Path, files: int, seed: int) -> list[Path]:
    """Write ``files`` articles into folders of 100 under ``directory``; return their paths."""
    corpus = Corpus(seed)
    paths = []
    for number in range(files):
        folder = directory / f"{number // FILES_PER_FOLDER:04d}"
        if number % FILES_PER_FOLDER == 0:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{number:06d}.md"
        path.write_text(corpus.article(number), encoding="utf-8")
        paths.append(path)
    return paths


# -- measurements -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    """One measurement: how long it took to go through ``files`` articles."""

    name: str
    seconds: float
    files: int
    cpu: float  # CPU seconds of this process and its children meanwhile

    @property
    def rate(self) -> float:
        """Return articles (or files considered) per second."""
        return self.files / self.seconds


@contextmanager
def one_core() -> Iterator[None]:
    """Confine this thread, and every thread or process it starts meanwhile, to one CPU."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


def cpu_seconds() -> float:
    """Return the CPU time used by this process and its children that have finished."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def machine_cpu_seconds() -> float:
    """Return the CPU time every process on the machine has used since boot."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


def best_of(repeat: int, name: str, files: int, run: Callable[[int], float]) -> Result:
    """Run ``run(attempt)`` (which returns seconds) ``repeat`` times; keep the fastest."""
    results = []
    for attempt in range(repeat):
        cpu = cpu_seconds()
        seconds = run(attempt)
        results.append(Result(name, seconds, files, cpu_seconds() - cpu))
    return min(results, key=lambda result: result.seconds)


def bare_parse(paths: list[Path]) -> float:
    """Read every file, cut out its front matter and load it with CSafeLoader; return seconds."""
    started = time.perf_counter()
    for path in paths:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
        rest = text.partition("\n")[2]
        closing = _FENCE.search(rest)
        assert closing is not None, path
        fields = yaml.load(rest[: closing.start()], Loader=yaml.CSafeLoader)
        assert isinstance(fields, dict), path
    return time.perf_counter() - started


def timed_load(db: Path | str, corpus: Path, workers: int, expect: str, files: int) -> float:
    """Run ``load_articles`` into ``db``, check every file was ``expect``; return seconds."""

    async def run() -> tuple[float, LoadReport]:
        async with await open_store(db) as store:
            started = time.perf_counter()
            report = await load_articles(store, [corpus], workers=workers)
            return time.perf_counter() - started, report

    seconds, report = asyncio.run(run())
    if getattr(report, expect) != files or report.rejected or report.files != files:
        raise SystemExit(f"load into {db} did not go as expected: {report.summary()}")
    return seconds


def parse_stage(paths: list[Path]) -> float:
    """Run the loader's parsing alone (read, YAML, validate, rows) as a worker does; seconds."""
    names = [str(path) for path in paths]
    started = time.perf_counter()
    for start in range(0, len(names), CHUNK_SIZE):
        parse_files(names[start : start + CHUNK_SIZE])  # results dropped, as after pickling
    return time.perf_counter() - started


def store_stage(db: Path | str, parsed: list[ParsedFile]) -> float:
    """Save already parsed articles in the loader's batches into a new database; seconds."""

    async def run() -> float:
        async with await open_store(db) as store:
            started = time.perf_counter()
            for start in range(0, len(parsed), BATCH_SIZE):
                batch = parsed[start : start + BATCH_SIZE]
                await store.articles.save([(p.article, p.source) for p in batch if p.article])
            return time.perf_counter() - started

    return asyncio.run(run())


def fresh_db(workdir: Path, name: str) -> Path:
    """Return the path of a database file that does not exist yet."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{workdir / name}{suffix}").unlink(missing_ok=True)
    return workdir / name


def cli_load(workdir: Path, corpus: Path) -> float:
    """Time ``python -m bot load`` into a fresh database with default settings (wall clock)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSBOT_")}
    command = [sys.executable, "-m", "bot", "--db", str(fresh_db(workdir, "cli.db")), "load"]
    started = time.perf_counter()
    subprocess.run([*command, str(corpus)], cwd=workdir, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


# -- report -------------------------------------------------------------------------------


def stages(paths: list[Path], workdir: Path, repeat: int) -> tuple[Result, Result]:
    """Time the loader's two stages alone, on the calling thread's core."""
    n = len(paths)
    parse = best_of(repeat, "stage: parse alone, 1 core", n, lambda _: parse_stage(paths))
    parsed = parse_files([str(path) for path in paths])
    store = best_of(
        repeat, "stage: store alone, 1 core", n,
        lambda _: store_stage(fresh_db(workdir, "stage.db"), parsed),
    )  # fmt: skip
    return parse, store


def measure(corpus: Path, paths: list[Path], workdir: Path, repeat: int) -> list[Result]:
    """Take the seven measurements, in order, each the best of ``repeat`` runs."""
    n = len(paths)

    def pinned_load(_: int) -> float:
        with one_core():  # the parsing thread and aiosqlite's thread start inside: pinned too
            return timed_load(fresh_db(workdir, "one.db"), corpus, 1, "added", n)

    with one_core():
        bare = best_of(repeat, "bare CSafeLoader parse, 1 core", n, lambda _: bare_parse(paths))
        parse, store = stages(paths, workdir, repeat)
    one = best_of(repeat, "full load, 1 core", n, pinned_load)
    # Affinity is restored here, so the spawned pool workers may run on every core.
    two = best_of(
        repeat, "full load, 2 cores", n,
        lambda _: timed_load(fresh_db(workdir, "two.db"), corpus, 2, "added", n),
    )  # fmt: skip
    rerun = best_of(
        repeat, "unchanged re-run", n,
        lambda _: timed_load(workdir / "two.db", corpus, 2, "unchanged", n),
    )  # fmt: skip
    cli = best_of(
        1, "CLI `python -m bot load` (incl. start-up)", n, lambda _: cli_load(workdir, corpus)
    )
    return [bare, parse, store, one, two, rerun, cli]


PG_DATABASE = "newsbot_bench_ingest"


def measure_postgres(
    server: Any, corpus: Path, paths: list[Path], repeat: int
) -> tuple[list[Result], float | None]:
    """Take the PostgreSQL measurements: store stage, full load on 2 cores, re-run.

    Each load goes into a new database on ``server``; return the results and the CPU time
    the server's processes used meanwhile (None when the server is not on this machine).
    """
    import pgserver

    n = len(paths)
    server_cpu = pgserver.server_cpu_seconds(server)

    def fresh() -> str:
        return str(pgserver.run(pgserver.fresh_database(server, PG_DATABASE)))

    parsed = parse_files([str(path) for path in paths])
    store = best_of(
        repeat, "PostgreSQL: stage: store alone", n, lambda _: store_stage(fresh(), parsed)
    )
    two = best_of(
        repeat, "PostgreSQL: full load, 2 cores", n,
        lambda _: timed_load(fresh(), corpus, 2, "added", n),
    )  # fmt: skip
    rerun = best_of(
        repeat, "PostgreSQL: unchanged re-run", n,
        lambda _: timed_load(server.url(PG_DATABASE), corpus, 2, "unchanged", n),
    )  # fmt: skip
    pgserver.run(pgserver.drop_database(server, PG_DATABASE))
    after = pgserver.server_cpu_seconds(server)
    used = None if server_cpu is None or after is None else after - server_cpu
    return [store, two, rerun], used


def compare_loads(server: Any, corpus: Path, files: int, workdir: Path, repeat: int) -> int:
    """Alternate full loads on 2 cores into SQLite and into PostgreSQL; print the ratio.

    On a shared machine the load of other jobs changes within minutes: loads taken in
    turns see the same conditions. The CPU time counts the database server's processes.
    """
    import pgserver

    runs: dict[str, list[tuple[float, float]]] = {"SQLite": [], "PostgreSQL": []}
    for attempt in range(repeat):
        for backend in ("SQLite", "PostgreSQL") if attempt % 2 == 0 else ("PostgreSQL", "SQLite"):
            cpu, server_cpu = cpu_seconds(), 0.0
            if backend == "SQLite":
                seconds = timed_load(fresh_db(workdir, "two.db"), corpus, 2, "added", files)
            else:
                url = pgserver.run(pgserver.fresh_database(server, PG_DATABASE))
                before = pgserver.server_cpu_seconds(server) or 0.0
                seconds = timed_load(url, corpus, 2, "added", files)
                server_cpu = (pgserver.server_cpu_seconds(server) or 0.0) - before
            used = cpu_seconds() - cpu + server_cpu
            runs[backend].append((seconds, used))
            print(f"{backend}: {seconds:.2f} s, {used:.2f} CPU-s (load {os.getloadavg()[0]:.1f})",
                  file=sys.stderr, flush=True)  # fmt: skip
    pgserver.run(pgserver.drop_database(server, PG_DATABASE))
    best = {backend: min(times) for backend, times in runs.items()}
    print(f"{'full load, 2 cores, best of ' + str(repeat):<34}{'seconds':>9}{'CPU s':>8}"
          f"{'articles/s':>12}")  # fmt: skip
    for backend, (seconds, used) in best.items():
        print(f"{backend:<34}{seconds:>9.2f}{used:>8.2f}{files / seconds:>12,.0f}")
    ratio = best["PostgreSQL"][0] / best["SQLite"][0]
    cpu_ratio = best["PostgreSQL"][1] / best["SQLite"][1]
    print(f"\nPostgreSQL / SQLite: time {ratio:.2f} (target <= 1.5: "
          f"{'PASS' if ratio <= 1.5 else 'FAIL'}), CPU time (the server's included) "
          f"{cpu_ratio:.2f}")  # fmt: skip
    print(json.dumps({"runs": runs, "ratio": round(ratio, 3), "cpu_ratio": round(cpu_ratio, 3),
                      "machine": describe()}))  # fmt: skip
    return 0 if ratio <= 1.5 else 1


def main() -> int:
    """Parse the options, build the corpus, measure, print the table and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000, help="corpus size (%(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (%(default)s)")
    parser.add_argument("--workdir", type=Path, help="where to write (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the workdir afterwards")
    parser.add_argument("--repeat", type=int, default=1, help="best of R runs (%(default)s)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument(
        "--backend", choices=("sqlite", "both"), default="both",
        help="also load into PostgreSQL (NEWSBOT_BENCH_POSTGRES's server or a throwaway one)",
    )  # fmt: skip
    parser.add_argument(
        "--loads-only", action="store_true",
        help="only full loads on 2 cores, into SQLite and PostgreSQL in turns (--repeat times)",
    )  # fmt: skip
    args = parser.parse_args()
    if not yaml.__with_libyaml__:
        raise SystemExit("PyYAML was built without libyaml: the floor would be meaningless")
    if len(os.sched_getaffinity(0)) < 2:
        print("warning: fewer than 2 cores allowed; the 2-core load uses what there is")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newsbot-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = workdir / "corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    postgres: list[Result] = []
    server_cpu: float | None = None
    server_info: dict[str, Any] | None = None
    try:
        with ExitStack() as stack:
            server = None
            if args.backend == "both":
                import pgserver

                server = stack.enter_context(pgserver.server())
                server_info = pgserver.run(pgserver.settings(server))
            paths = write_corpus(corpus, args.files, args.seed)
            if args.loads_only and server is not None:
                return compare_loads(server, corpus, len(paths), workdir, args.repeat)
            size = sum(path.stat().st_size for path in paths)
            started, machine_before, own_before = time.time(), machine_cpu_seconds(), cpu_seconds()
            bare, parse, store, one, two, rerun, _ = results = measure(
                corpus, paths, workdir, args.repeat
            )
            if server is not None:
                postgres, server_cpu = measure_postgres(server, corpus, paths, args.repeat)
            others = machine_cpu_seconds() - machine_before - (cpu_seconds() - own_before)
            others -= server_cpu or 0.0
            elapsed = time.time() - started
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    seed_size = SEED_ARTICLE.stat().st_size if SEED_ARTICLE.exists() else 0
    ratios = {  # target: (ratio, comparison, bound)
        "full load 1 core / bare parse >= 0.85": (one.rate / bare.rate, operator.ge, 0.85),
        "full load 2 cores / bare parse > 1.0": (two.rate / bare.rate, operator.gt, 1.0),
        "unchanged re-run / full load 2 cores >= 30": (rerun.rate / two.rate, operator.ge, 30.0),
    }
    if postgres:  # as a rate ratio: SQLite's time / PostgreSQL's >= 1 / 1.5
        pg_two = postgres[1]
        ratios["PostgreSQL full load 2 cores: time / SQLite's <= 1.5"] = (
            pg_two.seconds / two.seconds,
            operator.le,
            1.5,
        )
    targets = [(label, ratio, test(ratio, bound)) for label, (ratio, test, bound) in ratios.items()]
    figures = {
        "machine": describe(pyyaml=yaml.__version__, libyaml=bool(yaml.__with_libyaml__)),
        "corpus": {"files": args.files, "seed": args.seed, "bytes": size, "seed_bytes": seed_size},
        "repeat": args.repeat,
        "measuring_seconds": round(elapsed, 1),
        "other_processes_cpu_seconds": round(max(others, 0.0), 1),
        "results": [
            {"name": x.name, "seconds": round(x.seconds, 4), "cpu_seconds": round(x.cpu, 3),
             "rate": round(x.rate, 1), "vs_bare": round(x.rate / bare.rate, 3)}
            for x in results + postgres
        ],
        "postgres": None if server_info is None else {
            "server": server_info,
            "server_cpu_seconds": None if server_cpu is None else round(server_cpu, 1),
        },
        "targets": [{"target": t, "ratio": round(v, 3), "met": met} for t, v, met in targets],
        "stages": {  # times as multiples of the bare parse's time, and what they allow
            "parse": round(parse.seconds / bare.seconds, 3),
            "store": round(store.seconds / bare.seconds, 3),
            "one_core_bound": round(bare.seconds / (parse.seconds + store.seconds), 3),
        },
    }  # fmt: skip
    print_report(figures)
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0 if all(met for _, _, met in targets) else 1


def print_report(figures: dict[str, Any]) -> None:
    """Print the machine, the corpus, the table of measurements and the targets."""
    info, corpus = figures["machine"], figures["corpus"]
    files, size = corpus["files"], corpus["bytes"]
    print(
        f"machine: {info['cpu']}, {info['cores_allowed']}/{info['cores']} cores, "
        f"{info['ram_gib']} GiB RAM, {info['platform']}"
    )
    print(
        f"         Python {info['python']}, SQLite {info['sqlite']}, PyYAML {info['pyyaml']} "
        f"(libyaml {'yes' if info['libyaml'] else 'no'})"
    )
    print(
        f"corpus:  {files:,} files (seed {corpus['seed']}), {size / 2**20:.1f} MiB, mean "
        f"{size / files:,.0f} bytes/file (the seed article: {corpus['seed_bytes']:,} bytes)"
    )
    print(f"repeat:  best of {figures['repeat']}")
    others, elapsed = figures["other_processes_cpu_seconds"], figures["measuring_seconds"]
    busy = others > 0.05 * elapsed  # other processes took over 5% of a core
    print(f"noise:   other processes used {others:.1f} CPU-s in the {elapsed:.0f} s measured; "
          + ("BUSY, figures unreliable\n" if busy else "quiet\n"))  # fmt: skip
    print(f"{'measurement':<44}{'seconds':>9}{'CPU s':>8}{'articles/s':>12}{'/ bare':>8}")
    for x in figures["results"]:
        print(f"{x['name']:<44}{x['seconds']:>9.2f}{x['cpu_seconds']:>8.2f}{x['rate']:>12,.0f}"
              f"{x['vs_bare']:>8.2f}")  # fmt: skip
    if figures["postgres"]:
        server, used = figures["postgres"]["server"], figures["postgres"]["server_cpu_seconds"]
        print(
            f"PostgreSQL {server['server_version']} ({server['where']}, shared_buffers "
            f"{server['shared_buffers']}, fsync {server['fsync']}); its processes used "
            f"{'?' if used is None else f'{used:.1f}'} CPU-s over the PostgreSQL rows "
            "(not in their CPU s column)"
        )
    stages = figures["stages"]
    print(
        f"\nstages, as multiples of the bare parse's time: parse {stages['parse']:.2f} + store "
        f"{stages['store']:.2f} = {stages['parse'] + stages['store']:.2f}, so a load on one core"
        f"\ncan reach at most {stages['one_core_bound']:.2f} of the bare rate "
        "(on one core the stages' times add up)\n"
    )
    for target in figures["targets"]:
        verdict = "PASS" if target["met"] else "FAIL"
        print(f"{target['target']:<44}{target['ratio']:>9.2f}  {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
