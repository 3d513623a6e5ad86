"""Time the flashcards: the first question of ``mlquiz review`` and checking typed answers.

1. *First question on screen*: ``mlquiz review`` runs as a new process on a prepared
   database with answers on a pipe; the clock stops when the answer prompt after the first
   question arrives. Interleaved with ``python -c "import sqlite3"`` so that both share the
   machine's load. Target (issue 5, point 7): median at most 5x the baseline.
2. *Answer typed at once*: the same process gets an answer as soon as the prompt shows; the
   time until its verdict is printed includes waiting for the checker still loading in the
   background.
3. *Checking one typed answer*, in this process after the checker is loaded: formulas proved
   by sympy, formulas where sympy's simplification gives up (cut off after
   ``check.PROOF_SECONDS``), LaTeX, arrays, wrong and refused answers. Target: each well
   under a second (max < 1 s).

Exit code 1 if a target is missed.

    python bench/bench_cards.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOW = "2026-03-02T08:00:00Z"
PROMPT = b"Your answer (Enter to reveal): "


def mlquiz_command() -> list[str]:
    script = Path(sys.executable).with_name("mlquiz")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlquiz"]


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


#: (label, card id, typed answer, expected status)
ANSWERS = [
    ("formula, proved", "backprop.sigmoid_prime", "sigma(z)*(1-sigma(z))", "correct"),
    ("formula, proved", "logistic_regression.sigmoid", "1/(1+e^(-z))", "correct"),
    ("formula, proved", "priors.gaussian_density", "1/(sigma sqrt(2 pi)) exp(-w^2/(2 sigma^2))", "correct"),
    ("formula, proved", "taylor.split_gain",
     "0.5*(GL^2/(HL+lam) + GR^2/(HR+lam) - (GL+GR)^2/(HL+HR+lam)) - gamma", "correct"),
    ("LaTeX, proved", "logistic_regression.sigmoid", r"\frac{1}{1+e^{-z}}", "correct"),
    ("LaTeX, proved", "adaboost.alpha", r"\frac{1}{2}\ln\frac{1-e_m}{e_m}", "correct"),
    ("simplify gives up", "backprop.sigmoid_prime",
     "(1 + tanh(z/4))^2/(2 + 2 tanh(z/4)^2) * (1 - (1 + tanh(z/4))^2/(2 + 2 tanh(z/4)^2))", "correct"),
    ("simplify gives up", "backprop.sigmoid_prime",
     "(1 + tanh(z/6))^3/(2 + 6 tanh(z/6)^2) * (1 - (1 + tanh(z/6))^3/(2 + 6 tanh(z/6)^2))", "correct"),
    ("simplify gives up", "logistic_regression.sigmoid",
     "(1 + tanh(z/4)^2 + 2 tanh(z/4))/(2 + 2 tanh(z/4)^2)", "correct"),
    ("piecewise, random points", "l1.soft_threshold", "max(w - t, 0) - max(-w - t, 0)", "correct"),
    ("array", "backprop.dense_dw", "x.T @ dz", "correct"),
    ("array", "bn_backward.dgamma", "sum(dout * x_hat, axis=0)", "correct"),
    ("array", "bn_backward.dx_compact",
     "gamma/(N*sqrt(var+eps)) * (N*dout - dout.sum(0) - x_hat*(dout*x_hat).sum(0))", "correct"),
    ("wrong formula", "adaboost.alpha", "log((1-e_m)/e_m)", "wrong"),
    ("wrong array", "backprop.dense_dw", "dz.T @ x", "wrong"),
    ("refused", "logistic_regression.sigmoid", "__import__('os').system('true')", "invalid"),
]


def time_checks(repeats: int) -> list[tuple[str, str, float, float, str]]:
    from mlquiz.cards import check
    from mlquiz.cards.deck import get_card

    rows = []
    for label, card_id, text, expected in ANSWERS:
        card = get_card(card_id)
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            verdict = check.check_answer(card, text)
            samples.append(time.perf_counter() - started)
            if verdict.status != expected:
                raise AssertionError(f"{card_id} {text!r}: {verdict}")
        rows.append((label, card_id, statistics.median(samples), max(samples), verdict.method))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each answer check")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="mlquiz-bench-cards-"))
    env = {k: v for k, v in os.environ.items() if k not in ("MLQUIZ_LANG", "PYTHONDONTWRITEBYTECODE")}
    env.update({"MLQUIZ_DB": str(folder / "cards.db"), "MLQUIZ_NOW": NOW})
    command = [*mlquiz_command(), "review"]
    try:
        subprocess.run([*mlquiz_command(), "next", "--json"], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # creates and fills the database
        first_question(command, env)  # warm-up: caches, .pyc files
        base, shown = [], []
        for _ in range(args.runs):
            base.append(baseline(env))
            shown.append(first_question(command, env)[0])
        typed = [first_question(command, env, "x @ W + b")[1] for _ in range(5)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    started = time.perf_counter()
    from mlquiz.cards import check

    check.warm_up()
    loading = time.perf_counter() - started
    rows = time_checks(args.repeats)

    b, s = statistics.median(base), statistics.median(shown)
    print(f"medians of {args.runs} runs, each a new process ({' '.join(command)}):")
    baseline_name = 'python -c "import sqlite3"'
    print(f"  {baseline_name:46} {b * 1000:7.1f} ms")
    print(f"  {'first question of mlquiz review on screen':46} {s * 1000:7.1f} ms  {s / b:5.2f}x")
    print(f"  {'answer typed at once: until its verdict':46} {statistics.median(typed) * 1000:7.1f} ms"
          "  (5 runs; includes the checker still loading)")
    print(f"\nloading the checker (sympy, numpy, LaTeX parser) in this process: {loading * 1000:.0f} ms")
    print(f"checking one typed answer (median and max of {args.repeats}; proof bound "
          f"{check.PROOF_SECONDS} s):")
    for label, card_id, median, worst, method in rows:
        print(f"  {label:26} {card_id:38} {median * 1000:7.1f} ms  max {worst * 1000:6.1f} ms  [{method or '-'}]")
    slowest = max(worst for *_, worst, _ in rows)

    failures = []
    if s > 5 * b:
        failures.append(f"first question {s / b:.2f}x > 5x")
    if slowest >= 1.0:
        failures.append(f"slowest check {slowest:.2f} s >= 1 s")
    print("\n" + ("targets met: first question <= 5x baseline, every check < 1 s" if not failures
                  else "MISSED: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
