"""svm_primal with fit_primal by second-order SMO on the dual (a correct alternative)."""
import numpy as np


def hinge_objective(w, b, X, y, C):
    total = 0.5 * float(w @ w)
    for x, t in zip(X, y):
        total += C * max(0.0, 1.0 - t * (float(x @ w) + b))
    return total


def hinge_subgradient(w, b, X, y, C):
    dw, db = np.array(w, dtype=float), 0.0
    for x, t in zip(X, y):
        if t * (float(x @ w) + b) < 1.0:
            dw = dw - C * t * x
            db -= C * t
    return dw, db


def fit_primal(X, y, C):
    n = len(y)
    K = X @ X.T
    alpha = np.zeros(n)
    grad = -np.ones(n)
    for _ in range(200000):
        up = np.where(y > 0, alpha < C, alpha > 0)
        low = np.where(y > 0, alpha > 0, alpha < C)
        score = -y * grad
        i = int(np.flatnonzero(up)[np.argmax(score[up])])
        candidates = np.flatnonzero(low & (score < score[i]))
        if score[i] - score[low].min() <= 1e-10 or candidates.size == 0:
            break
        gain = (score[i] - score[candidates]) ** 2 / np.maximum(
            K[i, i] + K[candidates, candidates] - 2 * K[i, candidates], 1e-12)
        j = int(candidates[np.argmax(gain)])
        step = (score[i] - score[j]) / max(K[i, i] + K[j, j] - 2 * K[i, j], 1e-12)
        step = min(step, C - alpha[i] if y[i] > 0 else alpha[i], alpha[j] if y[j] > 0 else C - alpha[j])
        old_i, old_j = alpha[i], alpha[j]
        alpha[i] = min(max(alpha[i] + y[i] * step, 0.0), C)
        alpha[j] = min(max(alpha[j] - y[j] * step, 0.0), C)
        grad += y * (K[:, i] * y[i] * (alpha[i] - old_i) + K[:, j] * y[j] * (alpha[j] - old_j))
    w = X.T @ (alpha * y)
    # the best bias for this w: the objective is piecewise linear in b, kinked at y_i - x_i . w
    kinks = y - X @ w
    b = min(kinks, key=lambda c: hinge_objective(w, c, X, y, C))
    return w, float(b)
