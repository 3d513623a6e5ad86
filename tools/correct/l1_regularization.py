"""l1, with the lasso solved by FISTA (a correct alternative)."""
import numpy as np


def l1_penalty(w, lam):
    return lam * float(sum(abs(v) for v in np.ravel(w)))


def l1_subgradient(w, lam):
    w = np.asarray(w, dtype=float)
    return lam * ((w > 0).astype(float) - (w < 0).astype(float))


def soft_threshold(w, t):
    w = np.asarray(w, dtype=float)
    return np.where(w > t, w - t, np.where(w < -t, w + t, 0.0))


def lasso_fit(X, y, lam, n_iter=1000):
    step = 1.0 / np.linalg.norm(X, 2) ** 2
    w = v = np.zeros(X.shape[1])
    t = 1.0
    for _ in range(2 * n_iter):
        w_next = soft_threshold(v + step * (X.T @ (y - X @ v)), step * lam)
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        v = w_next + (t - 1.0) / t_next * (w_next - w)
        w, t = w_next, t_next
    return w
