"""The support vector machine in its primal form (SVM 原形式): hinge loss and its minimisation.

Reference implementation. Labels are ``y`` in {-1, +1}. The soft-margin linear SVM minimises

    J(w, b) = 0.5 ||w||^2 + C sum_i max(0, 1 - y_i (w . x_i + b)),

a wide margin (small ||w||) traded against the hinge losses of the points with margin
y_i (w . x_i + b) below 1: those inside the margin or on the wrong side of it.
"""

import numpy as np


def hinge_objective(w, b, X, y, C):
    """The soft-margin SVM's primal objective.

    Parameters
    ----------
    w : ndarray, shape (D,)
        Weights.
    b : float
        Bias.
    X : ndarray, shape (N, D)
        Samples, one per row.
    y : ndarray, shape (N,)
        Labels in {-1, +1}.
    C : float
        Weight of the hinge losses, C > 0.

    Returns
    -------
    float
        J(w, b).

    Notes
    -----
    J(w, b) = 0.5 ||w||^2 + C sum_i max(0, 1 - y_i (X w + b)_i)
    """
    w = np.asarray(w, dtype=float)
    margins = np.asarray(y, dtype=float) * (np.asarray(X, dtype=float) @ w + b)
    return float(0.5 * w @ w + C * np.maximum(0.0, 1.0 - margins).sum())


def hinge_subgradient(w, b, X, y, C):
    """A subgradient of the primal objective ``hinge_objective`` with respect to w and b.

    Parameters
    ----------
    w : ndarray, shape (D,)
        Weights.
    b : float
        Bias.
    X : ndarray, shape (N, D)
        Samples.
    y : ndarray, shape (N,)
        Labels in {-1, +1}.
    C : float
        Weight of the hinge losses.

    Returns
    -------
    dw : ndarray, shape (D,)
        Subgradient with respect to w.
    db : float
        Subgradient with respect to b.

    Notes
    -----
    max(0, 1 - m) has slope -1 for m < 1 and 0 for m > 1; at the kink m = 1 any slope in
    [-1, 0] is a subgradient, and the convention here is 0. So only the active samples,
    A = {i : y_i (w . x_i + b) < 1} (strictly), contribute:

        dw = w - C sum_{i in A} y_i x_i,     db = -C sum_{i in A} y_i.

    Where no margin equals 1 exactly, this is the gradient.
    """
    w = np.asarray(w, dtype=float)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    active = y * (X @ w + b) < 1.0
    dw = w - C * X[active].T @ y[active]
    db = -C * y[active].sum()
    return dw, float(db)


def fit_primal(X, y, C):
    """Fit a linear soft-margin SVM: minimise ``hinge_objective`` over w and b.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Training samples.
    y : ndarray, shape (N,)
        Labels in {-1, +1}, both classes present.
    C : float
        Weight of the hinge losses, C > 0.

    Returns
    -------
    w : ndarray, shape (D,)
        Weights.
    b : float
        Bias.

    Notes
    -----
    Any method is accepted that reaches J(w, b) at most 1e-3 (relative) above the minimum
    with its default arguments. Subgradient descent converges too slowly for that.

    One method that does (the reference's): solve the dual problem, maximise
    sum(alpha) - 0.5 (alpha y)^T X X^T (alpha y) subject to 0 <= alpha <= C and
    sum(alpha y) = 0, by SMO with maximal-violating-pair selection (``smo_fit`` of the
    svm_dual exercise) down to a KKT violation of 1e-9, computing the kernel rows
    X @ x_i on demand; then map back: w = X^T (alpha y), and b = y_i - w . x_i averaged over
    the free support vectors (0 < alpha_i < C), which lie on the margin. Strong duality
    makes this (w, b) the minimiser of J. The tight tolerance matters: a KKT violation of
    eps leaves J up to about C eps (number of samples near the margin) above the minimum.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    alpha, b = _smo_linear(X, y, C, tol=1e-9, max_iter=1_000_000)
    return X.T @ (alpha * y), b


def _smo_linear(X, y, C, tol, max_iter):
    """SMO on the linear-kernel dual, one kernel row X @ x_i at a time; returns alpha, b.

    Keeps y g = y - X w (g the gradient of the dual, w = X^T (alpha y)) and updates the
    maximal violating pair (i, j) of the KKT conditions each step, as ``smo_fit`` does.
    """
    n = y.shape[0]
    alpha = np.zeros(n)
    yg = y.copy()  # y_t - w . x_t, at alpha = 0
    sq_norms = (X**2).sum(1)
    positive = y > 0
    up = positive.copy()  # alpha_i may grow along y_i
    low = ~positive  # alpha_j may shrink along y_j
    for _ in range(max_iter):
        up_scores = np.where(up, yg, -np.inf)
        low_scores = np.where(low, yg, np.inf)
        i, j = up_scores.argmax(), low_scores.argmin()
        violation = up_scores[i] - low_scores[j]
        if not violation > tol:
            break
        k_i, k_j = X @ X[i], X @ X[j]
        eta = max(sq_norms[i] + sq_norms[j] - 2.0 * k_i[j], 1e-12)
        room_i = C - alpha[i] if positive[i] else alpha[i]
        room_j = alpha[j] if positive[j] else C - alpha[j]
        t = min(violation / eta, room_i, room_j)
        alpha[i] += y[i] * t
        alpha[j] -= y[j] * t
        if t == room_i:
            alpha[i] = C if positive[i] else 0.0
        if t == room_j:
            alpha[j] = 0.0 if positive[j] else C
        yg -= t * (k_i - k_j)
        for k in (i, j):
            up[k] = alpha[k] < C if positive[k] else alpha[k] > 0
            low[k] = alpha[k] > 0 if positive[k] else alpha[k] < C
    free = (alpha > 0) & (alpha < C)
    if free.any():
        return alpha, float(yg[free].mean())
    m = yg[up].max() if up.any() else yg.min()
    M = yg[low].min() if low.any() else yg.max()
    return alpha, float(0.5 * (m + M))
