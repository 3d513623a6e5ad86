"""svm_primal with fit_primal by second-order SMO on the dual and the best b for its w (a
correct alternative)."""
import numpy as np


def hinge_objective(w, b, X, y, C):
    total = 0.5 * sum(v * v for v in w)
    for xi, yi in zip(X, y):
        total += C * max(0.0, 1.0 - yi * (float(np.dot(xi, w)) + b))
    return total


def hinge_subgradient(w, b, X, y, C):
    dw, db = np.array(w, dtype=float), 0.0
    for xi, yi in zip(X, y):
        if yi * (xi @ w + b) < 1:
            dw = dw - C * yi * xi
            db -= C * yi
    return dw, db


def fit_primal(X, y, C):
    # The dual by SMO with second-order pair selection, then w = X^T (alpha y) and the b that
    # minimises the objective for that w (the hinge sum is piecewise linear in b).
    n = len(y)
    K = X @ X.T
    alpha, G = np.zeros(n), -np.ones(n)
    for _ in range(200000):
        up = ((y > 0) & (alpha < C)) | ((y < 0) & (alpha > 0))
        low = ((y > 0) & (alpha > 0)) | ((y < 0) & (alpha < C))
        s = -y * G
        i = np.flatnonzero(up)[np.argmax(s[up])]
        if s[i] - s[low].min() < 1e-8:
            break
        a = np.maximum(K[i, i] + np.diag(K) - 2 * K[i], 1e-12)
        j = int(np.argmax(np.where(low & (s < s[i]), (s[i] - s) ** 2 / a, -np.inf)))
        t = min((s[i] - s[j]) / a[j], C - alpha[i] if y[i] > 0 else alpha[i],
                alpha[j] if y[j] > 0 else C - alpha[j])
        alpha[i] += y[i] * t
        alpha[j] -= y[j] * t
        G += t * y * (K[:, i] - K[:, j])
    w = X.T @ (alpha * y)
    candidates = y - X @ w  # the kinks of the hinge sum in b
    values = [hinge_objective(w, b, X, y, C) for b in candidates]
    return w, float(candidates[int(np.argmin(values))])
