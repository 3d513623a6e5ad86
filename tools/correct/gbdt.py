"""gbdt with recursive trees as tuples and a model as a list (a correct alternative)."""
import numpy as np


def negative_gradient(y, f):
    return np.subtract(y, f, dtype=float)


def _sse(v):
    return float(np.sum((v - v.mean()) ** 2)) if len(v) else 0.0


def fit_tree(X, r, max_depth, min_samples_leaf=1):
    if max_depth == 0 or np.all(r == r[0]):
        return ("leaf", float(np.mean(r)))
    node, best = _sse(r), None
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        for a, b in zip(values[:-1], values[1:]):
            t = (a + b) / 2
            left = X[:, j] <= t
            if min(left.sum(), (~left).sum()) < min_samples_leaf:
                continue
            gain = node - _sse(r[left]) - _sse(r[~left])
            if best is None or gain > best[0] + 1e-12 * node:
                best = (gain, j, t)
    if best is None or best[0] <= 1e-12 * node:
        return ("leaf", float(np.mean(r)))
    _, j, t = best
    left = X[:, j] <= t
    return ("split", j, t, fit_tree(X[left], r[left], max_depth - 1, min_samples_leaf),
            fit_tree(X[~left], r[~left], max_depth - 1, min_samples_leaf))


def _predict_one(tree, x):
    while tree[0] == "split":
        tree = tree[3] if x[tree[1]] <= tree[2] else tree[4]
    return tree[1]


def tree_predict(tree, X):
    return np.array([_predict_one(tree, x) for x in X], dtype=float)


def gbdt_fit(X, y, n_estimators, learning_rate, max_depth):
    model = [float(np.mean(y))]
    f = np.full(len(y), model[0])
    for _ in range(n_estimators):
        tree = fit_tree(X, negative_gradient(y, f), max_depth)
        f = f + learning_rate * tree_predict(tree, X)
        model.append((learning_rate, tree))
    return model


def gbdt_predict(model, X):
    out = np.full(len(X), model[0])
    for rate, tree in model[1:]:
        out = out + rate * tree_predict(tree, X)
    return out
