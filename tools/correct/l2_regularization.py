"""l2, with ridge as least squares on rows augmented by sqrt(lam) I (a correct alternative)."""
import numpy as np


def l2_penalty(w, lam):
    return 0.5 * lam * float(np.dot(np.ravel(w), np.ravel(w)))


def l2_grad(w, lam):
    return np.multiply(w, lam, dtype=float)


def weight_decay_step(w, grad, lr, lam):
    return (1.0 - lr * lam) * w - lr * grad


def ridge_fit(X, y, lam):
    d = X.shape[1]
    A = np.vstack([X, np.sqrt(lam) * np.eye(d)])
    b = np.concatenate([y, np.zeros(d)])
    return np.linalg.lstsq(A, b, rcond=None)[0]
