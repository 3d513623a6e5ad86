"""Gradient boosted regression trees with squared loss 0.5 (y - f)^2 (Friedman).

The negative gradient of the squared loss is the residual y - f, so each round fits a CART
regression tree to the residuals of the model so far and adds it, shrunk by the learning rate:
f_M(x) = f_0 + learning_rate * sum_m sum_j c_mj I(x in R_mj), with f_0 = mean(y).

Here a tree is a nested dict: a leaf is ``{"value": c}``, an inner node is
``{"feature": j, "threshold": t, "left": subtree, "right": subtree}`` (``x[j] <= t`` goes left),
and a model is ``{"init": f_0, "learning_rate": lr, "trees": [tree_1, ..., tree_M]}``.
"""

import numpy as np

TOL = 1e-12  # relative to the node's squared error: ties, and splits too small to make


def negative_gradient(y, f):
    """Negative gradient of the squared loss 0.5 (y - f)^2 with respect to f.

    Parameters
    ----------
    y : ndarray, shape (N,)
        Targets.
    f : ndarray, shape (N,)
        Current predictions.

    Returns
    -------
    ndarray, shape (N,)
        ``r = y - f``, the residuals.
    """
    return y - f


def _best_split(X, r, min_samples_leaf):
    """The best split of one node, or None: (feature, threshold) minimising the children's SSE.

    With c = r - mean(r) (the SSE does not change with a shift, and centring keeps the
    cumulative sums accurate), the SSE of the node minus that of its children is
    s_L^2 / n_L + s_R^2 / n_R, where s_L, s_R are the sums of c on each side: one cumulative sum
    per feature gives every threshold at once.
    """
    N, D = X.shape
    c = r - r.mean()
    sse = float(np.sum(c * c))
    total = float(np.sum(c))
    gains, thresholds = [], []
    for j in range(D):
        order = np.argsort(X[:, j], kind="stable")
        xs = X[order, j]
        s_left = np.cumsum(c[order])[:-1]  # k = 1..N-1 samples on the left
        k = np.arange(1, N)
        ok = (xs[1:] > xs[:-1]) & (k >= min_samples_leaf) & (N - k >= min_samples_leaf)
        k = k[ok]
        s_left = s_left[ok]
        gains.append(s_left**2 / k + (total - s_left) ** 2 / (N - k))
        thresholds.append((xs[k - 1] + xs[k]) / 2)
    best = max((float(g.max()) for g in gains if g.size), default=None)
    if best is None or best <= TOL * sse:
        return None
    for j in range(D):
        tied = np.nonzero(gains[j] >= best - TOL * sse)[0]
        if tied.size:
            return j, float(thresholds[j][tied[0]])  # thresholds ascend with k
    return None  # pragma: no cover


def _grow(X, r, depth, max_depth, min_samples_leaf):
    if depth >= max_depth or np.all(r == r[0]):
        return {"value": float(np.mean(r))}
    split = _best_split(X, r, min_samples_leaf)
    if split is None:
        return {"value": float(np.mean(r))}
    feature, threshold = split
    left = X[:, feature] <= threshold
    return {
        "feature": feature,
        "threshold": threshold,
        "left": _grow(X[left], r[left], depth + 1, max_depth, min_samples_leaf),
        "right": _grow(X[~left], r[~left], depth + 1, max_depth, min_samples_leaf),
    }


def fit_tree(X, r, max_depth, min_samples_leaf=1):
    """Fit a CART regression tree by least squares.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Inputs.
    r : ndarray, shape (N,)
        Targets (in boosting, the residuals).
    max_depth : int
        Depth of the deepest leaf (0: the root is a leaf).
    min_samples_leaf : int
        A split leaving fewer samples than this on a side is not a candidate.

    Returns
    -------
    tree
        The fitted tree, in any representation that ``tree_predict`` accepts.

    Notes
    -----
    Each node chooses the feature j and threshold t (a midpoint (a + b) / 2 between consecutive
    distinct values of X[:, j] in the node) minimising
    sum_{x_j <= t} (r - c_L)^2 + sum_{x_j > t} (r - c_R)^2, where c_L, c_R are the means of r on
    each side. Values within 1e-12 of the node's squared error are tied: lowest feature, then
    lowest threshold. A node is a leaf, valued mean(r), at depth ``max_depth``, when r is
    constant, or when no candidate lowers its squared error by more than 1e-12 of it.
    """
    X = np.asarray(X, dtype=float)
    r = np.asarray(r, dtype=float)
    return _grow(X, r, 0, max_depth, min_samples_leaf)


def tree_predict(tree, X):
    """Predictions of a regression tree.

    Parameters
    ----------
    tree
        A tree returned by ``fit_tree``.
    X : ndarray, shape (M, D)
        Inputs.

    Returns
    -------
    ndarray, shape (M,)
        The value of the leaf each row falls into (``x[j] <= t`` goes left).
    """
    out = np.empty(X.shape[0])

    def fill(node, rows):
        if "value" in node:
            out[rows] = node["value"]
            return
        left = X[rows, node["feature"]] <= node["threshold"]
        fill(node["left"], rows[left])
        fill(node["right"], rows[~left])

    fill(tree, np.arange(X.shape[0]))
    return out


def gbdt_fit(X, y, n_estimators, learning_rate, max_depth):
    """Fit gradient boosted regression trees with squared loss.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Inputs.
    y : ndarray, shape (N,)
        Real-valued targets.
    n_estimators : int
        Number of trees M.
    learning_rate : float
        Shrinkage applied to every tree.
    max_depth : int
        Depth of every tree.

    Returns
    -------
    model
        The fitted model (f_0, the learning rate and the M trees), in any representation that
        ``gbdt_predict`` accepts.

    Notes
    -----
    f_0 = mean(y); for m = 1..M: r_m = y - f_{m-1}(X), tree_m = fit_tree(X, r_m, max_depth),
    f_m = f_{m-1} + learning_rate * tree_m.
    """
    y = np.asarray(y, dtype=float)
    init = float(np.mean(y))
    f = np.full(y.shape[0], init)
    trees = []
    for _ in range(n_estimators):
        tree = fit_tree(X, negative_gradient(y, f), max_depth)
        f = f + learning_rate * tree_predict(tree, X)
        trees.append(tree)
    return {"init": init, "learning_rate": learning_rate, "trees": trees}


def gbdt_predict(model, X):
    """Predictions of a fitted GBDT model.

    Parameters
    ----------
    model
        A model returned by ``gbdt_fit``.
    X : ndarray, shape (M, D)
        Inputs.

    Returns
    -------
    ndarray, shape (M,)
        f_M(x) = f_0 + learning_rate * sum_m tree_m(x).
    """
    f = np.full(X.shape[0], model["init"])
    for tree in model["trees"]:
        f = f + model["learning_rate"] * tree_predict(tree, X)
    return f
