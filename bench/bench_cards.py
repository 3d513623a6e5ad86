"""Time the flashcards: the first question of ``mlquiz review`` and checking typed answers.

1. *First question on screen*: ``mlquiz review`` runs as a new process on a prepared
   database with answers on a pipe; the clock stops when the answer prompt after the first
   question arrives. Interleaved with ``python -c "import sqlite3"`` so that both share the
   machine's load. Target (issue 5, point 7): median at most 5x the baseline.
2. *Answer typed at once*: the same process gets an answer as soon as the prompt shows; the
   time until its verdict is printed includes waiting for the checker still loading in the
   background.
3. *Checking each typed answer of the corpus* (``tests/data/answers.jsonl``: correct answers
   in many notations, wrong and hostile ones), in this process after the checker is loaded:
   median, 99th percentile and maximum, of CPU time and of wall time. Target: every check
   under a second of CPU time.
4. *``mlquiz check`` over 800 answers*, one process, against the same baseline.

Exit code 1 if a target is missed.

    python bench/bench_cards.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_next  # noqa: E402

NOW = "2026-03-02T08:00:00Z"
PROMPT = b"Your answer (Enter to reveal): "


def read_until(stream, marker: bytes, timeout: float = 30.0) -> bytes:
    """Read from a pipe until ``marker`` arrives (raw reads: nothing waits for a newline)."""
    buffer = b""
    deadline = time.perf_counter() + timeout
    fd = stream.fileno()
    while marker not in buffer:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError(f"no {marker!r} after {timeout} s; got {buffer[-300:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError(f"the process ended before {marker!r}; got {buffer[-300:]!r}")
            buffer += chunk
    return buffer


def first_question(command, env, answer: str | None = None) -> tuple[float, float | None]:
    """Seconds until the first question's prompt, and (with ``answer``) from sending it
    until its verdict."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    try:
        read_until(process.stdout, PROMPT)
        shown = time.perf_counter() - started
        verdict = None
        if answer is not None:
            sent = time.perf_counter()
            process.stdin.write(answer.encode() + b"\n")
            process.stdin.flush()
            read_until(process.stdout, b"Answer:")
            verdict = time.perf_counter() - sent
        process.stdin.close()  # end of input: the session ends cleanly
        process.wait(timeout=30)
        if process.returncode != 0:
            raise RuntimeError(process.stderr.read().decode())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return shown, verdict


def baseline(env) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sqlite3"], env=env, check=True)
    return time.perf_counter() - started


CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "answers.jsonl"


def corpus_lines() -> list[dict]:
    """The corpus lines written for the cards' current answers (see tests/test_check_corpus.py)."""
    from mlquiz.cards.deck import load_deck

    answers = {card.id: card.answer_sympy or card.answer_numpy for card in load_deck()}
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if answers.get(row["card"]) == row["against"]]


def time_corpus(rows: list[dict]) -> tuple[list[float], list[float], list[tuple[float, dict]]]:
    """CPU and wall seconds of checking each answer of the corpus, in this process."""
    from mlquiz.cards import check
    from mlquiz.cards.deck import get_card

    cpu, wall, slowest = [], [], []
    for row in rows:
        card = get_card(row["card"])
        started, started_cpu = time.perf_counter(), time.process_time()
        check.check_answer(card, row["answer"])
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
        slowest.append((cpu[-1], row))
    return cpu, wall, sorted(slowest, key=lambda item: -item[0])[:5]


def time_check_command(rows: list[dict], env) -> float:
    """Wall seconds of one ``mlquiz check`` process over ``rows``."""
    lines = "".join(json.dumps({"card": r["card"], "answer": r["answer"]}) + "\n" for r in rows)
    started = time.perf_counter()
    process = subprocess.run([*bench_next.mlquiz_command(), "check"], input=lines, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if process.returncode != 0 or len(process.stdout.splitlines()) != len(rows):
        raise RuntimeError(process.stderr)
    return elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="mlquiz-bench-cards-"))
    env = bench_next.installed_environment("MLQUIZ_LANG")
    env.update({"MLQUIZ_DB": str(folder / "cards.db"), "MLQUIZ_NOW": NOW})
    command = [*bench_next.mlquiz_command(), "review"]
    try:
        subprocess.run([*bench_next.mlquiz_command(), "next", "--json"], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # creates and fills the database
        first_question(command, env)  # warm-up: caches, .pyc files
        base, shown = [], []
        for _ in range(args.runs):
            base.append(baseline(env))
            shown.append(first_question(command, env)[0])
        typed = [first_question(command, env, "x @ W + b")[1] for _ in range(5)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    rows = corpus_lines()
    started = time.perf_counter()
    from mlquiz.cards import check

    check.warm_up()
    loading = time.perf_counter() - started
    cpu, wall, slowest = time_corpus(rows)
    batch = rows[:800]
    base_batch = statistics.median(baseline(env) for _ in range(5))
    command_seconds = time_check_command(batch, env)

    b, s = statistics.median(base), statistics.median(shown)
    print(f"medians of {args.runs} runs, each a new process ({' '.join(command)}):")
    baseline_name = 'python -c "import sqlite3"'
    print(f"  {baseline_name:46} {b * 1000:7.1f} ms")
    print(f"  {'first question of mlquiz review on screen':46} {s * 1000:7.1f} ms  {s / b:5.2f}x")
    print(f"  {'answer typed at once: until its verdict':46} {statistics.median(typed) * 1000:7.1f} ms"
          "  (5 runs; includes the checker still loading)")
    print(f"\nloading the checker (sympy, numpy) in this process: {loading * 1000:.0f} ms")
    print(f"checking each of the {len(rows)} typed answers of tests/data/answers.jsonl in this process:")
    for name, values in (("CPU time", cpu), ("wall time", wall)):
        print(f"  {name:10} median {statistics.median(values) * 1000:7.2f} ms   p99 "
              f"{percentile(values, 0.99) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms")
    if statistics.median(cpu) == 0:
        print("  (the process CPU clock advances in coarse ticks on this machine: read the wall time)")
    print("  slowest (CPU): " + "; ".join(f"{c * 1000:.0f} ms {r['card']} {r['answer'][:40]!r}" for c, r in slowest[:3]))
    print(f"\nmlquiz check over {len(batch)} answers, one process: {command_seconds:.2f} s "
          f"({command_seconds / len(batch) * 1000:.2f} ms an answer; {command_seconds / base_batch:.0f}x "
          f"{baseline_name} at {base_batch * 1000:.1f} ms)")

    failures = []
    if s > 5 * b:
        failures.append(f"first question {s / b:.2f}x > 5x")
    if max(cpu) >= 1.0:
        failures.append(f"slowest check {max(cpu):.2f} s of CPU >= 1 s")
    return bench_next.verdict(failures, "targets met: first question <= 5x baseline, every check < 1 s of CPU")


if __name__ == "__main__":
    sys.exit(main())
