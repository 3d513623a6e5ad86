"""Grading spec of the svm_dual exercise (CURRICULUM.md, **svm_dual**).

The kernels, the dual objective, the weights, the bias and the decision function are compared
with the reference (``rbf_kernel`` also with a direct double loop). The multipliers given to
``bias_from_dual`` are optimal ones on problems with free and bound support vectors, so taking
the bias from a bound one gives a visibly wrong answer. ``smo_fit`` has many correct answers
(alpha is not unique, and any stopping point within ``tol`` will do), so it is graded on what
every correct answer shares with the optimum, which is the reference's SMO run to a KKT
violation of 1e-9 on the same problem: the constraints, the KKT gap of the returned alpha (at
most 10 tol; when it is larger, whether alpha solves the dual for another kernel matrix says
if the kernel or the stopping rule is at fault), the dual objective, and decision values on
held-out points (when they are off, the bias of the learner's own alpha says if b alone is at
fault). Its problems include two points, a duplicated point of both labels, the RBF kernel with
its default gamma, and five points on which SMO stops with no free multiplier.
"""

from __future__ import annotations

import numpy as np

from mlquiz.grading.numeric import compare
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Case, Check, FunctionSpec, Mismatch, Mistake

ref = load_reference("svm_dual")

OBJECTIVE_RTOL = 1e-4  # smo_fit: dual objective at most this much (relative) below the optimum
EQUALITY_ATOL = 1e-6  # smo_fit: |sum(alpha y)|
BOX_SLACK = 1e-9  # smo_fit: rounding allowed outside [0, C], relative to C
DECISION_RTOL = 1e-2  # smo_fit: held-out decision values, relative to 1 + max |f|


# ---------------------------------------------------------------------------------------------
# Problems and their optimum


def linear_problem(rng, n, d, separable, noise=0.6):
    """X (n, d), y (n,) with both classes (3 of each when n >= 6): labels from a random
    hyperplane; separable data keep a gap of 0.4 on each side of it, non-separable data have
    labels flipped by noise (of this standard deviation) across it."""
    while True:
        u = rng.normal(size=d)
        u /= np.linalg.norm(u)
        X = rng.normal(size=(n, d))
        s = X @ u + 0.3 * rng.normal()
        if separable:
            X += np.outer(0.4 * np.sign(s), u)
        else:
            s = s + noise * rng.normal(size=n)
        y = np.where(s > 0, 1.0, -1.0)
        if min((y > 0).sum(), (y < 0).sum()) >= min(3, n // 2):
            return X, y


def _ring_problem(rng, n):
    """X (n, 2), y (n,): inside a circle of radius 1.3 against outside, 10% of the labels
    flipped; a linear kernel cannot separate it, an RBF kernel can."""
    X = rng.uniform(-2.5, 2.5, size=(n, 2))
    y = np.where((X**2).sum(1) < 1.3**2, 1.0, -1.0)
    y[rng.random(n) < 0.1] *= -1
    y[:2] = [1.0, -1.0]
    return X, y


# Five points on which SMO with tol=1e-3 stops with every multiplier at a bound, while the
# optimum (C = 0.1) has two free ones, one of them tiny (about 5e-4).
_ALL_BOUND_AT_TOL = (np.array([[-1.363, -0.126], [0.58, 0.754], [-2.215, 0.073], [0.658, 0.253],
                               [0.269, -0.115]]), np.array([-1.0, 1.0, -1.0, 1.0, 1.0]))


def all_bound_at_tol(rng):
    """The five points above, rotated and moved at random (the dual's solution and SMO's path
    do not change): SMO's bias must come from its m and M, as no multiplier is free."""
    X, y = _ALL_BOUND_AT_TOL
    angle = rng.uniform(0, 2 * np.pi)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return X @ rotation.T + 3.0 * rng.normal(size=2), y.copy()


def duplicated(rng, n):
    """A linear problem of n points whose first two are one point with both labels (+1 first):
    SMO's first maximal violating pair, along which eta = K_ii + K_jj - 2 K_ij is 0."""
    X, y = linear_problem(rng, n - 1, 2, False)
    return np.vstack([X[:1], X]), np.concatenate([[1.0, -1.0], y[1:]])


def _kernel(X1, X2, kernel, gamma):
    return ref.linear_kernel(X1, X2) if kernel == "linear" else ref.rbf_kernel(X1, X2, gamma)


def _held_out(X):
    """Points that are not training points, fixed by X: midpoints of neighbours, and points
    pushed half a step past their neighbours."""
    return np.vstack([0.5 * (X + np.roll(X, 1, axis=0)), X + 0.5 * (X - np.roll(X, 3, axis=0))])


def kkt_violation(alpha, K, y, C, slack=0.0):
    """max_{i in I_up} s_i - min_{j in I_low} s_j with s = y - K (alpha y) (see the reference's
    smo_fit): 0 at the optimum, computed afresh from alpha. Multipliers within ``slack * C``
    of a bound count as on it (a solver that stops 1e-12 short of 0 is not at fault)."""
    score = y - (alpha * y) @ K
    below, above = alpha < C * (1 - slack), alpha > C * slack
    up = np.where(y > 0, below, above)
    low = np.where(y > 0, above, below)
    if not up.any() or not low.any():
        return 0.0
    return float(score[up].max() - score[low].min())


OPTIMUM_MAX_ITER = 1000  # a problem whose optimum SMO does not reach in this many steps is redrawn
_OPTIMA: dict = {}


def _optimum(X, y, C, kernel="linear", gamma=1.0) -> dict:
    """The solution of the dual on a problem, computed once: alpha, b, the kernel matrix K,
    the objective W, the kernel K_test between held-out points and X, the optimum's decision
    values f_test there, the number of free support vectors, and the KKT violation reached
    (ill-conditioned problems, on which maximal-violating-pair SMO zig-zags for tens of
    thousands of steps, stop at OPTIMUM_MAX_ITER with a larger violation and are redrawn)."""
    key = (X.tobytes(), y.tobytes(), X.shape, float(C), kernel, float(gamma))
    if key not in _OPTIMA:
        if len(_OPTIMA) > 64:
            _OPTIMA.clear()
        alpha, b = ref.smo_fit(X, y, C, kernel=kernel, gamma=gamma, tol=1e-9,
                               max_iter=OPTIMUM_MAX_ITER)
        K = _kernel(X, X, kernel, gamma)
        K_test = _kernel(_held_out(X), X, kernel, gamma)
        _OPTIMA[key] = dict(
            alpha=alpha, b=b, K=K, W=ref.dual_objective(alpha, K, y), K_test=K_test,
            f_test=ref.decision_function(alpha, b, K_test, y),
            free=int(((alpha > 1e-8) & (alpha < C - 1e-8)).sum()),
            violation=kkt_violation(alpha, K, y, C),
        )
    return _OPTIMA[key]


SMO_SLACK = 0.1  # smo_fit's problems: SMO at the default tol lands within 0.1 * OBJECTIVE_RTOL


def solved(rng, draw, C, kernel="linear", gamma=1.0, bound_inside=False, for_smo=False):
    """A problem ``draw(rng)`` whose optimum SMO reaches quickly (KKT violation <= 1e-6 within
    OPTIMUM_MAX_ITER pair updates) and has a free support vector (and, if ``bound_inside``, a
    bound one strictly inside the margin), with its optimum. ``for_smo``: also one where
    stopping at the default tol (1e-3) costs little of the objective (SMO_SLACK of its
    tolerance), so that any SMO stopping there meets both of the contract's bounds: on rare
    problems a KKT gap of 1e-3 still leaves the objective 1e-4 short."""
    for _ in range(100):
        X, y = draw(rng)
        opt = _optimum(X, y, C, kernel, gamma)
        if opt["free"] == 0 or opt["violation"] > 1e-6:
            continue
        if for_smo:
            alpha, _ = ref.smo_fit(X, y, C, kernel=kernel, gamma=gamma)
            if opt["W"] - ref.dual_objective(alpha, opt["K"], y) > SMO_SLACK * OBJECTIVE_RTOL * abs(opt["W"]):
                continue
        if bound_inside:
            margins = y * (opt["K"] @ (opt["alpha"] * y) + opt["b"])
            if not ((opt["alpha"] >= C) & (margins < 0.8)).any():
                continue
        return X, y, opt
    raise RuntimeError("no suitable problem drawn in 100 tries")


# ---------------------------------------------------------------------------------------------
# Inputs


def _kernel_cases(rng, with_gamma):
    X = rng.normal(size=(6, 3))
    cases = [
        Case("X1 (4, 3), X2 (6, 3)", (rng.normal(size=(4, 3)), X)),
        Case("X1 = X2 (6, 3): a square, symmetric kernel matrix", (X, X.copy())),
        Case("a single pair of points, D=2", (rng.normal(size=(1, 2)), rng.normal(size=(1, 2)))),
        Case("X1 (3, 5), X2 (7, 5), spread out", (rng.normal(scale=3.0, size=(3, 5)),
                                                  rng.normal(scale=3.0, size=(7, 5)))),
    ]
    if not with_gamma:
        return cases
    gammas = (0.5, 1.0, 2.0, 0.1)
    return [Case(f"{c.label}, gamma={g}", (*c.args, g)) for c, g in zip(cases, gammas)]


def _labels(rng, n):
    """n labels in {-1, +1}, both classes present."""
    y = rng.choice([-1.0, 1.0], size=n)
    y[:2] = [-1.0, 1.0]
    return y


def _dual_inputs(rng, n, C, kernel="linear", gamma=1.0):
    """alpha (n,) in [0, C] with some at 0 and at C, K (n, n), y (n,)."""
    X, y = linear_problem(rng, n, 2, False)
    alpha = rng.uniform(0, C, size=n)
    alpha[rng.random(n) < 0.3] = 0.0
    alpha[rng.random(n) < 0.2] = C
    return alpha, _kernel(X, X, kernel, gamma), y


def _objective_cases(rng):
    X, y, opt = solved(rng, lambda r: linear_problem(r, 20, 2, False), 1.0)
    return [
        Case("random alpha in [0, C], linear kernel, N=10", _dual_inputs(rng, 10, 1.0)),
        Case("random alpha in [0, C], RBF kernel (gamma=0.5), N=12",
             _dual_inputs(rng, 12, 5.0, "rbf", 0.5)),
        Case("alpha at the optimum, linear kernel, N=20, C=1", (opt["alpha"], opt["K"], y)),
        Case("alpha = 0: W = 0", (np.zeros(5), _dual_inputs(rng, 5, 1.0)[1], _labels(rng, 5))),
    ]


def _weights_cases(rng):
    X, y, opt = solved(rng, lambda r: linear_problem(r, 20, 3, False), 1.0)
    alpha, _, y2 = _dual_inputs(rng, 8, 2.0)
    return [
        Case("alpha at the optimum, N=20, D=3", (opt["alpha"], X, y)),
        Case("random alpha, N=8, D=4", (alpha, rng.normal(size=(8, 4)), y2)),
        Case("N=1, D=2", (np.array([0.7]), rng.normal(size=(1, 2)), np.array([-1.0]))),
    ]


def _bias_cases(rng):
    C1, C2, C3 = 1.0, 2.0, 5.0
    X, y, opt = solved(rng, lambda r: linear_problem(r, 30, 2, False), C1, bound_inside=True)
    Xr, yr, optr = solved(rng, lambda r: _ring_problem(r, 40), C2, "rbf", 1.0,
                           bound_inside=True)
    X3, y3, opt3 = solved(rng, lambda r: linear_problem(r, 30, 3, False), C3,
                           bound_inside=True)
    # A multiplier of 5e-4 where the optimum has 0: with tol=1e-3 it does not count as free.
    alpha3 = opt3["alpha"].copy()
    alpha3[np.flatnonzero(alpha3 == 0)[0]] = 5e-4
    # multipliers of exactly tol and C - tol (not free: tol < alpha < C - tol is strict) and,
    # with the default tol of 1e-8, one of 5e-9 where the optimum has 0
    edges = opt3["alpha"].copy()
    zeros, bound = np.flatnonzero(edges == 0), np.flatnonzero(edges == C3)
    edges[zeros[0]] = 1e-3
    if bound.size:
        edges[bound[0]] = C3 - 1e-3
    tiny = opt["alpha"].copy()
    tiny[np.flatnonzero(tiny == 0)[0]] = 5e-9
    return [
        Case("optimal alpha, linear kernel, N=30, C=1: free and bound support vectors",
             (opt["alpha"], opt["K"], y, C1)),
        Case("optimal alpha, RBF kernel (gamma=1), N=40, C=2: free and bound support vectors",
             (optr["alpha"], optr["K"], yr, C2)),
        Case("tol=1e-3, C=5: one alpha of 5e-4 counts as zero, not as free",
             (alpha3, opt3["K"], y3, C3), {"tol": 1e-3}),
        Case("tol=1e-3, C=5: multipliers of exactly tol and C - tol are not free",
             (edges, opt3["K"], y3, C3), {"tol": 1e-3}),
        Case("default tol (1e-8): a multiplier of 5e-9 is not free", (tiny, opt["K"], y, C1)),
    ]


def _decision_cases(rng):
    X, y, opt = solved(rng, lambda r: _ring_problem(r, 30), 3.0, "rbf", 0.5)
    Xl, yl, optl = solved(rng, lambda r: linear_problem(r, 20, 2, False), 1.0)
    return [
        Case("optimal alpha and b, RBF kernel, N=30 training and M=60 test points",
             (opt["alpha"], opt["b"], opt["K_test"], y)),
        Case("optimal alpha and b, linear kernel, N=20, M=40",
             (optl["alpha"], optl["b"], optl["K_test"], yl)),
        Case("random alpha, b = -0.7, N=5, M=1", (rng.uniform(0, 1, 5), -0.7,
                                                  rng.normal(size=(1, 5)), _labels(rng, 5))),
    ]


def _smo_cases(rng):
    problems = [
        ("linear kernel, separable, N=30, D=2, C=10",
         solved(rng, lambda r: linear_problem(r, 30, 2, True), 10.0, for_smo=True)[:2], 10.0, {}),
        ("linear kernel, non-separable, N=40, D=2, C=0.1 (small)",
         solved(rng, lambda r: linear_problem(r, 40, 2, False), 0.1, for_smo=True)[:2], 0.1, {}),
        ("linear kernel, non-separable, N=30, D=2, C=30 (large)",
         solved(rng, lambda r: linear_problem(r, 30, 2, False, noise=0.3), 30.0,
                for_smo=True)[:2], 30.0, {}),
        ("RBF kernel (gamma=0.5), a ring, N=40, C=3",
         solved(rng, lambda r: _ring_problem(r, 40), 3.0, "rbf", 0.5, for_smo=True)[:2], 3.0,
         {"kernel": "rbf", "gamma": 0.5}),
        ("RBF kernel with its default gamma (1.0), a ring, N=30, C=2",
         solved(rng, lambda r: _ring_problem(r, 30), 2.0, "rbf", 1.0, for_smo=True)[:2], 2.0,
         {"kernel": "rbf"}),
        ("a tiny problem: two points, C=10 (a wrong step size overshoots and cycles)",
         solved(rng, lambda r: linear_problem(r, 2, 2, True), 10.0, for_smo=True)[:2], 10.0, {}),
        ("a bias that lands where no alpha is free although the optimum has a free support "
         "vector (SMO stops with every alpha at a bound), N=5, C=0.1",
         solved(rng, all_bound_at_tol, 0.1, for_smo=True)[:2], 0.1, {}),
        ("duplicated points with opposite labels (the step's curvature is 0), N=24, C=1",
         solved(rng, lambda r: duplicated(r, 24), 1.0, for_smo=True)[:2], 1.0, {}),
    ]
    cases = [Case(label, (X, y, C), kwargs) for label, (X, y), C, kwargs in problems]
    X, y = problems[0][1]
    cases.append(Case('kernel="poly": an unknown kernel raises ValueError', (X, y, 1.0),
                      {"kernel": "poly"}, raises="ValueError"))
    return cases


# ---------------------------------------------------------------------------------------------
# Independent checks


def _check_rbf_loop(case, got, expected):
    X1, X2, gamma = case.args
    direct = np.array([[np.exp(-gamma * np.sum((a - c) ** 2)) for c in X2] for a in X1])
    return compare(got, direct, rtol=1e-7, atol=1e-12, name="K vs exp(-gamma ||x - x'||^2)")


def _split_smo(case, got):
    """(alpha, b) from the learner's output, or a message saying what is wrong with its form."""
    n = case.args[1].shape[0]
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return None, "smo_fit must return two values (alpha, b)"
    alpha, b = np.asarray(got[0], dtype=float), np.asarray(got[1], dtype=float)
    if alpha.shape != (n,):
        return None, f"alpha has shape {alpha.shape}, expected ({n},)"
    if b.size != 1:
        return None, f"b must be a single number, got shape {b.shape}"
    if not (np.isfinite(alpha).all() and np.isfinite(b).all()):
        return None, "alpha or b contains nan or inf"
    return (alpha, float(b.reshape(()))), None


def _problem_of(case):
    X, y, C = case.args
    return X, y, C, _optimum(X, y, C, case.kwargs.get("kernel", "linear"),
                             case.kwargs.get("gamma", 1.0))


def _check_constraints(case, got, expected):
    fitted, problem = _split_smo(case, got)
    if problem:
        return Mismatch("alpha", problem)
    (alpha, _), (_, y, C, _) = fitted, _problem_of(case)
    low, high = alpha.min(), alpha.max()
    if low < -BOX_SLACK * C or high > C * (1 + BOX_SLACK):
        return Mismatch("alpha", f"0 <= alpha <= C (C = {C:g}, rounding of {BOX_SLACK:g} C "
                                 f"allowed) does not hold: min alpha = {low:.6g}, "
                                 f"max alpha = {high:.6g}")
    total = float(alpha @ y)
    if abs(total) > EQUALITY_ATOL:
        return Mismatch("alpha", f"sum(alpha y) = 0 does not hold: sum(alpha y) = {total:.3g}, "
                                 f"allowed |sum(alpha y)| <= {EQUALITY_ATOL:g}")
    return None


KKT_FACTOR = 10  # smo_fit: the KKT gap of the returned alpha at most this many times tol


def _other_kernels(case):
    """Kernel matrices a mistaken smo_fit might have optimised instead, by name."""
    X = case.args[0]
    gamma = case.kwargs.get("gamma", 1.0)
    others = {"the linear kernel": ref.linear_kernel(X, X)}
    if case.kwargs.get("kernel", "linear") == "rbf":
        others = {"the linear kernel": ref.linear_kernel(X, X),
                  f"the RBF kernel with gamma = 1 (gamma = {gamma:g} ignored)": ref.rbf_kernel(X, X, 1.0),
                  f"the RBF kernel with 1 / gamma = {1 / gamma:g}": ref.rbf_kernel(X, X, 1 / gamma),
                  "exp(-gamma ||x - x'||), without the square": np.exp(-gamma * np.sqrt(_sq_dist(X, X)))}
    else:
        others["an RBF kernel (gamma = 1)"] = ref.rbf_kernel(X, X, 1.0)
    return others


def _check_kkt(case, got, expected):
    """The KKT gap of the returned alpha (the maximal violating pair), at most KKT_FACTOR * tol;
    when it is not, whether alpha solves the dual for another kernel matrix (then the kernel
    is at fault, not the stopping rule)."""
    fitted, problem = _split_smo(case, got)
    if problem:
        return Mismatch("alpha", problem)
    (alpha, _), (_, y, C, opt) = fitted, _problem_of(case)
    tol = case.kwargs.get("tol", 1e-3)
    gap = kkt_violation(alpha, opt["K"], y, C, slack=BOX_SLACK)
    allowed = KKT_FACTOR * tol
    if gap <= allowed:
        return None
    message = (f"the KKT gap of your alpha (max over I_up of y_i g_i minus min over I_low) is "
               f"{gap:.3g}; allowed: {KKT_FACTOR} * tol = {allowed:g}. ")
    for name, K in _other_kernels(case).items():
        if kkt_violation(alpha, K, y, C, slack=BOX_SLACK) <= allowed:
            return Mismatch("alpha", message + f"Your alpha does solve the dual for {name}: check the "
                                               "kernel matrix your smo_fit builds")
    return Mismatch("alpha", message + "SMO stopped before the violation of the maximal violating "
                                       "pair fell to tol: stop on that violation, not on the gain "
                                       "of one step or a count of passes")


def _check_objective(case, got, expected):
    fitted, problem = _split_smo(case, got)
    if problem:
        return Mismatch("alpha", problem)
    (alpha, _), (_, y, _, opt) = fitted, _problem_of(case)
    value = ref.dual_objective(alpha, opt["K"], y)
    shortfall = (opt["W"] - value) / abs(opt["W"])
    if shortfall <= OBJECTIVE_RTOL:
        return None
    return Mismatch(
        "alpha",
        f"the dual objective reached, W(alpha) = {value:.10g}, is {shortfall:.3g} (relative) "
        f"below the optimum {opt['W']:.10g}; allowed: at most {OBJECTIVE_RTOL:g} below",
        max_abs_error=float(opt["W"] - value), max_rel_error=float(shortfall),
        rtol=OBJECTIVE_RTOL, atol=0.0,
    )


def _check_decision(case, got, expected):
    fitted, problem = _split_smo(case, got)
    if problem:
        return Mismatch("alpha", problem)
    (alpha, b), (_, y, C, opt) = fitted, _problem_of(case)
    f = opt["K_test"] @ (alpha * y) + b
    allowed = DECISION_RTOL * (1 + np.abs(opt["f_test"]).max())
    error = np.abs(f - opt["f_test"]).max()
    if error <= allowed:
        return None
    # the bias that the learner's own alpha asks for: if it fixes f, b alone is at fault
    b_own = ref.bias_from_dual(alpha, opt["K"], y, C, tol=BOX_SLACK * C)
    fixed = np.abs(opt["K_test"] @ (alpha * y) + b_own - opt["f_test"]).max() <= allowed
    why = (f"Your alpha is right, your b is not: the free support vectors of your alpha give "
           f"b = {b_own:.8g} (the mean of y_i - sum_j alpha_j y_j K_ji over 0 < alpha_i < C), "
           f"yours is {b:.8g}" if fixed else "alpha itself is off")
    return Mismatch(
        "b" if fixed else "alpha",
        f"decision values f(x) = sum_i alpha_i y_i K(x_i, x) + b on {len(f)} held-out points "
        f"differ from the optimum's by up to {error:.3g}; allowed: {DECISION_RTOL:g} * (1 + max "
        f"|f|) = {allowed:.3g}. {why}",
    )


# ---------------------------------------------------------------------------------------------
# Classic mistakes (each returns what the mistaken formula gives on the case's inputs)


def _sq_dist(X1, X2):
    return ((X1[:, None, :] - X2[None, :, :]) ** 2).sum(-1)


def _scores(alpha, K, y):
    """y_i - sum_j alpha_j y_j K_ji: the bias that sample i alone asks for."""
    return y - (alpha * y) @ K


def _bias_over(alpha, K, y, chosen):
    return float(_scores(alpha, K, y)[chosen].mean())


def _bias_all_support(alpha, K, y, C, tol=1e-8):
    return _bias_over(alpha, K, y, alpha > tol)


def _bias_bound_support(alpha, K, y, C, tol=1e-8):
    return _bias_over(alpha, K, y, alpha >= C - tol)


def _bias_first_bound(alpha, K, y, C, tol=1e-8):
    return float(_scores(alpha, K, y)[np.flatnonzero(alpha >= C - tol)[0]])


def _bias_ignoring_tol(alpha, K, y, C, tol=1e-8):
    return _bias_over(alpha, K, y, (alpha > 0) & (alpha < C))


BOUND_SV = ("the bias was taken from bound support vectors (alpha = C) as well as or instead "
            "of free ones; a bound support vector may lie inside the margin (y f(x) < 1), so "
            "only free ones (tol < alpha < C - tol), which lie exactly on it, give "
            "b = y_i - sum_j alpha_j y_j K_ji")

FUNCTIONS = [
    FunctionSpec(
        name="linear_kernel",
        cases=lambda rng: _kernel_cases(rng, with_gamma=False),
        outputs=("K",),
        mistakes=(
            Mistake("returned the transpose: K[m, n] = <X1[m], X2[n]> has shape (M, N), "
                    "K = X1 @ X2.T", lambda X1, X2: X2 @ X1.T),
        ),
    ),
    FunctionSpec(
        name="rbf_kernel",
        cases=lambda rng: _kernel_cases(rng, with_gamma=True),
        outputs=("K",),
        atol=1e-12,
        checks=(Check("direct double loop", _check_rbf_loop),),
        mistakes=(
            Mistake("used the distance ||x - x'|| instead of its square: the RBF kernel is "
                    "exp(-gamma ||x - x'||^2)",
                    lambda X1, X2, gamma: np.exp(-gamma * np.sqrt(_sq_dist(X1, X2)))),
            Mistake("divided by gamma; gamma multiplies: exp(-gamma ||x - x'||^2)",
                    lambda X1, X2, gamma: np.exp(-_sq_dist(X1, X2) / gamma)),
            Mistake("used exp(-gamma ||x - x'||^2 / 2), the sigma form; with gamma the kernel "
                    "is exp(-gamma ||x - x'||^2)",
                    lambda X1, X2, gamma: np.exp(-0.5 * gamma * _sq_dist(X1, X2))),
            Mistake("returned the transpose: K[m, n] compares X1[m] with X2[n], shape (M, N)",
                    lambda X1, X2, gamma: np.exp(-gamma * _sq_dist(X2, X1))),
        ),
    ),
    FunctionSpec(
        name="dual_objective",
        cases=_objective_cases,
        outputs=("W",),
        mistakes=(
            Mistake("the quadratic term lacks its 0.5: W = sum(alpha) - 0.5 (alpha y)^T K "
                    "(alpha y)",
                    lambda a, K, y: a.sum() - (a * y) @ K @ (a * y)),
            Mistake("left the labels out of the quadratic term: it is sum_ij alpha_i alpha_j "
                    "y_i y_j K_ij", lambda a, K, y: a.sum() - 0.5 * a @ K @ a),
            Mistake("the quadratic term has the wrong sign: W = sum(alpha) - 0.5 (alpha y)^T K "
                    "(alpha y)", lambda a, K, y: a.sum() + 0.5 * (a * y) @ K @ (a * y)),
        ),
    ),
    FunctionSpec(
        name="weights_from_dual",
        cases=_weights_cases,
        outputs=("w",),
        mistakes=(
            Mistake("left the labels out: w = sum_i alpha_i y_i x_i = X.T @ (alpha * y)",
                    lambda a, X, y: X.T @ a),
        ),
    ),
    FunctionSpec(
        name="bias_from_dual",
        cases=_bias_cases,
        outputs=("b",),
        mistakes=(
            Mistake(BOUND_SV + " (here: the mean over every support vector, alpha > tol)",
                    _bias_all_support),
            Mistake(BOUND_SV + " (here: the mean over the bound ones, alpha = C)",
                    _bias_bound_support),
            Mistake(BOUND_SV + " (here: the first one with alpha = C)", _bias_first_bound),
            Mistake("ignored tol: a support vector is free when tol < alpha_i < C - tol",
                    _bias_ignoring_tol),
            Mistake("averaged over every sample; only free support vectors lie on the margin",
                    lambda a, K, y, C, tol=1e-8: float(_scores(a, K, y).mean())),
            Mistake("the sign is flipped: b = y_i - sum_j alpha_j y_j K_ji on a free support "
                    "vector", lambda a, K, y, C, tol=1e-8: -_bias_over(
                        a, K, y, (a > tol) & (a < C - tol))),
        ),
    ),
    FunctionSpec(
        name="decision_function",
        cases=_decision_cases,
        outputs=("f",),
        mistakes=(
            Mistake("left out the bias: f = K_test @ (alpha * y) + b",
                    lambda a, b, K, y: K @ (a * y)),
            Mistake("left the labels out: f = sum_i alpha_i y_i K(x, x_i) + b",
                    lambda a, b, K, y: K @ a + b),
            Mistake("subtracted the bias: f = K_test @ (alpha * y) + b",
                    lambda a, b, K, y: K @ (a * y) - b),
        ),
    ),
    FunctionSpec(
        name="smo_fit",
        cases=_smo_cases,
        outputs=("alpha", "b"),
        compare_to_reference=False,
        checks=(
            Check("constraints", _check_constraints),
            Check("KKT gap", _check_kkt),
            Check("dual objective", _check_objective),
            Check("held-out decision values", _check_decision),
        ),
    ),
]
