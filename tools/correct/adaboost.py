"""adaboost with a stump search by loops in the curriculum's order (a correct alternative)."""
import math

import numpy as np


def weighted_error(w, y, pred):
    return float(sum(wi for wi, yi, pi in zip(w, y, pred) if yi != pi))


def compute_alpha(err):
    err = min(max(err, 1e-10), 1 - 1e-10)
    return 0.5 * math.log((1 - err) / err)


def update_weights(w, alpha, y, pred):
    new = np.array([wi * math.exp(-alpha * yi * pi) for wi, yi, pi in zip(w, y, pred)])
    return new / new.sum()


def fit_stump(X, y, w):
    total = float(np.sum(w))
    best = None
    for j in range(X.shape[1]):
        values = sorted(set(X[:, j].tolist()))
        for t in [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values[:-1], values[1:])]:
            for p in (1, -1):
                err = weighted_error(w, y, np.where(X[:, j] <= t, p, -p))
                if best is None or err < best - 1e-12 * total:
                    best, stump = err, (j, float(t), p)
    return stump


def stump_predict(stump, X):
    j, t, p = stump
    return np.array([p if x <= t else -p for x in X[:, j]], dtype=float)


def adaboost_fit(X, y, n_rounds):
    w = np.ones(len(y)) / len(y)
    model = []
    while len(model) < n_rounds:
        stump = fit_stump(X, y, w)
        pred = stump_predict(stump, X)
        err = weighted_error(w, y, pred)
        model.append((compute_alpha(err), stump))
        if err == 0:
            return model
        w = update_weights(w, model[-1][0], y, pred)
    return model


def adaboost_predict(model, X):
    score = np.zeros(len(X))
    for alpha, stump in model:
        score += alpha * stump_predict(stump, X)
    return [1 if s >= 0 else -1 for s in score]
