"""Mutation testing of the grader: how many one-point mutants of the references fail grading.

    python tools/mutate.py                 # every exercise
    python tools/mutate.py adaboost gbdt   # some of them
    python tools/mutate.py --list l1       # the mutants only, without grading them

Each reference is mutated at every operator (+ -, * /, ** *, += -=, unary -, and/or, not),
comparison (< <=, > >=, == !=) and numeric constant (0 -> 1, 1 -> 0, another int n -> n + 1,
a float -> 0.0) of its graded functions, of the helpers they call and of the module-level
constants they read. Each mutant is written under the exercise's file name and graded like a
learner's file (the real sandbox) on seeds 0, 1 and 2, until one fails. The mutation score is
killed / (mutants - equivalent mutants); the equivalent ones, listed in EQUIVALENT with the
reason each cannot fail, are printed once. Goal: every non-equivalent mutant fails.
Run on demand (it takes minutes), not in CI.
"""

from __future__ import annotations

import argparse
import ast
import copy
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlquiz.curriculum import exercises
from mlquiz.grading.engine import grade_file

SEEDS = (0, 1, 2)
TIMEOUT = 3.0  # seconds per function: a mutant that loops fails on time

BINARY = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
          ast.Pow: ast.Mult, ast.FloorDiv: ast.Div}
COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
           ast.NotEq: ast.Eq}
BOOLEAN = {ast.And: ast.Or, ast.Or: ast.And}

# (exercise, function, "original -> mutant") -> why the mutant cannot fail any correct grading
FALLBACK = ('the bias without any free support vector is outside the contract (bias_from_dual is '
            'graded only on problems that have one)')
EQUIVALENT = {
    ('svm_dual', 'smo_fit', '0: 0 -> 1 (#3)'):
        'free counted from alpha > 1, else (m + M) / 2: at a KKT gap of at most tol every such bias is '
        'within tol of the free vectors\' mean, and decision values are graded within 1e-2',
    ('svm_dual', 'bias_from_dual', 'alpha < C - tol: Lt -> LtE (#2)'):
        FALLBACK,
    ('svm_dual', 'bias_from_dual', 'alpha > tol: Gt -> GtE (#2)'):
        FALLBACK,
    ('svm_dual', 'bias_from_dual', 'alpha > tol: Gt -> GtE (#3)'):
        FALLBACK,
    ('svm_dual', 'bias_from_dual', 'alpha < C - tol: Lt -> LtE (#3)'):
        FALLBACK,
    ('svm_dual', 'bias_from_dual', '0.5 * (m + M): Mult -> Div'):
        FALLBACK,
    ('svm_dual', 'bias_from_dual', '0: 0 -> 1'):
        FALLBACK,
    ('svm_dual', 'bias_from_dual', 'C - tol: Sub -> Add (#2)'):
        FALLBACK,
    ('svm_dual', 'bias_from_dual', '0: 0 -> 1 (#2)'):
        FALLBACK,
    ('svm_dual', 'bias_from_dual', 'C - tol: Sub -> Add (#3)'):
        FALLBACK,
    ('svm_dual', 'bias_from_dual', '0.5: 0.5 -> 0.0'):
        FALLBACK,
    ('svm_dual', 'bias_from_dual', 'm + M: Add -> Sub'):
        FALLBACK,
    ('backprop', '_sigmoid', 'z >= 0: GtE -> Gt'):
        'at z = 0 both branches give exactly 0.5',
    ('logistic_regression', 'sigmoid', 'z >= 0: GtE -> Gt'):
        'at z = 0 both branches give exactly 0.5',
    ('taylor', '_sigmoid', 'z >= 0: GtE -> Gt'):
        'at z = 0 both branches give exactly 0.5',
    ('l1', 'lasso_fit', '1000: 1000 -> 1001'):
        'one pass more than the default n_iter: still converged',
    ('l1', 'lasso_fit', '0.0: 0.0 -> 1.0'):
        'max_change starts at 1: only the early stop is lost, every pass still converges',
    ('l1', 'lasso_fit', 'max_change <= _LASSO_TOL * np.max(np.abs(w)): LtE -> Lt'):
        'differs only when the change equals the stopping tolerance exactly: one pass more',
    ('l1', 'lasso_fit', 'new - old: Sub -> Add (#2)'):
        'only the stopping test reads it: the passes go on, and stay converged',
    ('l1', '_LASSO_TOL', '1e-13: 1e-13 -> 0.0'):
        'a tighter stopping tolerance: more passes of a converged descent',
    ('svm_primal', 'fit_primal', '1000000: 1000000 -> 1000001'):
        'one pair update more than a limit SMO never reaches',
    ('svm_primal', 'fit_primal', 'alpha * y: Mult -> Div'):
        'labels are -1 or +1, so y and 1 / y are the same number',
    ('svm_primal', '_smo_linear', 'y > 0: Gt -> GtE'):
        'labels are -1 or +1: never 0',
    ('svm_primal', '_smo_linear', 'violation > tol: Gt -> GtE'):
        'differs only at a violation of exactly 1e-9',
    ('svm_primal', '_smo_linear', '2.0: 2.0 -> 0.0'):
        'a larger curvature shortens every step; SMO still stops only at a violation of 1e-9',
    ('svm_primal', '_smo_linear', '0: 0 -> 1 (#3)'):
        'free vectors counted from alpha > 1: at a violation of 1e-9 the fallback (m + M) / 2 equals their mean within 1e-9',
    ('svm_dual', 'smo_fit', '0.001: 0.001 -> 0.0'):
        'a tighter default tol is still a correct stopping rule',
    ('svm_dual', 'smo_fit', '100000: 100000 -> 100001'):
        'one pair update more than a limit SMO never reaches',
    ('svm_dual', 'smo_fit', 'y > 0: Gt -> GtE'):
        'labels are -1 or +1: never 0',
    ('svm_dual', 'smo_fit', 'violation > tol: Gt -> GtE'):
        'differs only at a violation of exactly tol',
    ('svm_dual', 'smo_fit', '2.0: 2.0 -> 0.0'):
        'a larger curvature shortens every step; SMO still stops only at a violation of tol',
    ('svm_dual', 'decision_function', 'alpha * np.asarray(y, dtype=float): Mult -> Div'):
        'labels are -1 or +1, so y and 1 / y are the same number',
    ('svm_dual', 'weights_from_dual', 'alpha * np.asarray(y, dtype=float): Mult -> Div'):
        'labels are -1 or +1, so y and 1 / y are the same number',
    ('svm_dual', 'dual_objective', 'alpha * np.asarray(y, dtype=float): Mult -> Div'):
        'labels are -1 or +1, so y and 1 / y are the same number',
    ('svm_dual', 'bias_from_dual', 'alpha * y: Mult -> Div'):
        'labels are -1 or +1, so y and 1 / y are the same number',
    ('svm_dual', 'bias_from_dual', 'y > 0: Gt -> GtE'):
        'labels are -1 or +1: never 0',
    ('svm_dual', 'bias_from_dual', 'y > 0: Gt -> GtE (#2)'):
        'labels are -1 or +1: never 0',
    ('adaboost', 'adaboost_predict', 'alpha * stump_predict(stump, X): Mult -> Div'):
        'a stump predicts -1 or +1, so alpha * G and alpha / G are the same number',
    ('adaboost', 'update_weights', '-alpha * y * pred: Mult -> Div'):
        'predictions are -1 or +1, so * pred and / pred agree',
    ('adaboost', 'update_weights', '-alpha * y: Mult -> Div'):
        'labels are -1 or +1, so y and 1 / y are the same number',
    ('adaboost', 'fit_stump', 'errors[j] <= best + TIE_TOL * total: LtE -> Lt'):
        'differs only when an error is exactly best + 1e-12 * total',
    ('adaboost', 'fit_stump', '0: 0 -> 1'):
        'tied[0].size and tied[1].size are the same number (np.nonzero of a 2-d array)',
    ('gbdt', 'fit_tree', '1: 1 -> 0'):
        'min_samples_leaf 0 or 1 admits the same splits: each side holds at least one sample anyway',
    ('gbdt', '_grow', 'r == r[0]: Eq -> NotEq'):
        'constant r then reaches _best_split, where every gain is 0 and the no-gain rule makes the same leaf',
    ('gbdt', '_best_split', 'best <= TOL * sse: LtE -> Lt'):
        "differs only when the best gain is exactly 1e-12 of the node's error (sse > 0 here)",
    ('gbdt', '_best_split', 'gains[j] >= best - TOL * sse: GtE -> Gt'):
        'differs only when a gain is exactly best - 1e-12 * sse',
    ('gbdt', '_best_split', 'total - s_left: Sub -> Add'):
        'total is the sum of the centred residuals, 0 up to rounding: (total +- s_left)^2 agree far within the tie tolerance',
}


def _constant_mutation(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return 1 if value == 0 else 0 if value == 1 else value + 1
    return 0.0 if value != 0 else 1.0


def _mutations(node):
    """(description, apply) for each one-point mutation of ``node`` (apply mutates a copy)."""
    found = []
    if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in BINARY:
        new = BINARY[type(node.op)]
        found.append((type(node.op).__name__ + " -> " + new.__name__, lambda n, new=new: setattr(n, "op", new())))
    elif isinstance(node, ast.Compare):
        for k, op in enumerate(node.ops):
            if type(op) in COMPARE:
                new = COMPARE[type(op)]

                def apply(n, k=k, new=new):
                    n.ops[k] = new()
                found.append((type(op).__name__ + " -> " + new.__name__, apply))
    elif isinstance(node, ast.BoolOp):
        new = BOOLEAN[type(node.op)]
        found.append((type(node.op).__name__ + " -> " + new.__name__, lambda n, new=new: setattr(n, "op", new())))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        # -x becomes +x; not x becomes not not x (the truth value of x)
        found.append(("drop " + type(node.op).__name__, lambda n: setattr(n, "op", ast.UAdd()) if isinstance(n.op, ast.USub)
                      else setattr(n, "operand", ast.UnaryOp(ast.Not(), n.operand))))
    elif isinstance(node, ast.Constant):
        new = _constant_mutation(node.value)
        if new is not None:
            found.append((f"{node.value!r} -> {new!r}", lambda n, new=new: setattr(n, "value", new)))
    return found


def _scope(tree, graded):
    """The top-level statements mutated: the graded functions, the functions they call
    (transitively) and the module-level assignments of names they read."""
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    constants = {t.id: n for n in tree.body if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name)}
    chosen, stack = {}, [name for name in graded if name in functions]
    while stack:
        name = stack.pop()
        if name in chosen:
            continue
        chosen[name] = functions[name]
        for sub in ast.walk(functions[name]):
            if isinstance(sub, ast.Name) and sub.id in functions and sub.id not in chosen:
                stack.append(sub.id)
    read = {sub.id for f in chosen.values() for sub in ast.walk(f) if isinstance(sub, ast.Name)}
    for name, node in constants.items():
        if name in read:
            chosen[name] = node
    return chosen


def _docstrings(node):
    body = getattr(node, "body", None)
    if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        return {id(body[0].value)}
    return set()


def mutants(exercise):
    """[(function, description, source)] for every one-point mutant of the reference."""
    source = exercise.reference_path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    nodes = list(ast.walk(tree))
    index = {id(n): i for i, n in enumerate(nodes)}
    found, seen = [], {}
    for name, top in _scope(tree, exercise.functions).items():
        skip = _docstrings(top)
        for node in ast.walk(top):
            if id(node) in skip:
                continue
            for what, apply in _mutations(node):
                copy_tree = copy.deepcopy(tree)
                target = list(ast.walk(copy_tree))[index[id(node)]]
                before = ast.unparse(node)
                apply(target)
                key = f"{before}: {what}"
                seen[(name, key)] = seen.get((name, key), 0) + 1
                if seen[(name, key)] > 1:
                    key += f" (#{seen[(name, key)]})"
                found.append((name, f"line {node.lineno}: {key}", ast.unparse(copy_tree)))
    return found


def killed(exercise, source, folder) -> bool:
    """Whether grading the mutant fails (on the first seed that makes it fail)."""
    path = Path(folder, exercise.file)
    path.write_text(source, encoding="utf-8")
    return any(not grade_file(path, exercise=exercise.id, seed=seed, timeout=TIMEOUT).passed for seed in SEEDS)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercises", nargs="*", help="exercise ids (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants without grading them")
    parser.add_argument("--jobs", type=int, default=2, help="mutants graded at once")
    args = parser.parse_args()
    chosen = [ex for ex in exercises() if not args.exercises or ex.id in args.exercises]
    totals = dict(mutants=0, killed=0, equivalent=0)
    survivors, equivalents = [], []
    for exercise in chosen:
        found = mutants(exercise)
        if args.list:
            for function, what, _ in found:
                print(f"{exercise.id}.{function} {what}")
            continue
        plain = [(f, w, s) for f, w, s in found if (exercise.id, f, _key(w)) not in EQUIVALENT]
        for f, w, _ in found:
            if (exercise.id, f, _key(w)) in EQUIVALENT:
                equivalents.append(f"{exercise.id}.{f} {w}: {EQUIVALENT[(exercise.id, f, _key(w))]}")

        def grade_one(item):
            with tempfile.TemporaryDirectory(prefix="mlquiz-mutant-") as folder:
                return killed(exercise, item[2], folder)

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(grade_one, plain))
        dead = sum(results)
        survivors += [f"{exercise.id}.{f} {w}" for (f, w, _), k in zip(plain, results) if not k]
        totals["mutants"] += len(found)
        totals["killed"] += dead
        totals["equivalent"] += len(found) - len(plain)
        print(f"{exercise.id:<20} {len(found):4d} mutants, {len(found) - len(plain):3d} equivalent, "
              f"{dead:4d} killed, {len(plain) - dead:3d} survived", flush=True)
    if args.list:
        return
    scored = totals["mutants"] - totals["equivalent"]
    print(f"\n{totals['mutants']} mutants, {totals['equivalent']} equivalent, {totals['killed']} of "
          f"{scored} killed: mutation score {100 * totals['killed'] / max(scored, 1):.1f} %")
    if equivalents:
        print("\nequivalent mutants (not scored):")
        print("\n".join("  " + e for e in equivalents))
    if survivors:
        print("\nmutants that passed grading:")
        print("\n".join("  " + s for s in survivors))
    sys.exit(1 if survivors else 0)


def _key(what: str) -> str:
    """A mutant's description without its line number (stable when the reference changes)."""
    return what.split(": ", 1)[1]


if __name__ == "__main__":
    main()
