"""taylor with Horner's rule, plain Python numbers and lists (a correct alternative)."""
import math

import numpy as np


def taylor_polynomial(derivs, x0, x):
    h = np.asarray(x, dtype=float) - x0
    total = np.zeros_like(h)
    for k in range(len(derivs) - 1, -1, -1):  # Horner: c_0 + h (c_1 + h (c_2 + ...))
        total = derivs[k] / math.factorial(k) + h * total
    return float(total) if np.ndim(x) == 0 else total


def grad_hess(y, y_pred, loss):
    y, y_pred = np.asarray(y, dtype=float), np.asarray(y_pred, dtype=float)
    if loss == "squared":
        return y_pred - y, np.ones(y_pred.shape)
    if loss == "logistic":
        p = np.exp(-np.logaddexp(0.0, -y_pred))
        return p - y, np.exp(-np.logaddexp(0.0, -y_pred) - np.logaddexp(0.0, y_pred))
    raise ValueError(loss)


def leaf_weight(G, H, lam):
    return [-g / (h + lam) for g, h in zip(np.ravel(G), np.ravel(H))] if np.ndim(G) else -G / (H + lam)


def structure_score(G, H, lam, gamma):
    G, H = np.atleast_1d(G), np.atleast_1d(H)
    return sum(-0.5 * g * g / (h + lam) for g, h in zip(G, H)) + gamma * len(G)


def split_gain(GL, HL, GR, HR, lam, gamma):
    def score(g, h):
        return g * g / (h + lam)
    return 0.5 * (score(GL, HL) + score(GR, HR) - score(GL + GR, HL + HR)) - gamma
