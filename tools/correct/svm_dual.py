"""svm_dual with kernels by loops and SMO with second-order working-set selection (a correct
alternative)."""
import numpy as np


def linear_kernel(X1, X2):
    return np.einsum("md,nd->mn", X1, X2)


def rbf_kernel(X1, X2, gamma):
    diff = X1[:, None, :] - X2[None, :, :]
    return np.exp(-gamma * np.einsum("mnd,mnd->mn", diff, diff))


def dual_objective(alpha, K, y):
    n = len(alpha)
    quad = 0.0
    for i in range(n):
        for j in range(n):
            quad += alpha[i] * alpha[j] * y[i] * y[j] * K[i, j]
    return alpha.sum() - quad / 2


def weights_from_dual(alpha, X, y):
    return (alpha[:, None] * y[:, None] * X).sum(axis=0)


def bias_from_dual(alpha, K, y, C, tol=1e-8):
    values = [y[i] - sum(alpha[j] * y[j] * K[j, i] for j in range(len(y)))
              for i in range(len(y)) if tol < alpha[i] < C - tol]
    return sum(values) / len(values)


def decision_function(alpha, b, K_test, y):
    return np.array([sum(a * yi * k for a, yi, k in zip(alpha, y, row)) + b for row in K_test])


def smo_fit(X, y, C, kernel="linear", gamma=1.0, tol=1e-3, max_iter=100000):
    # Second-order working-set selection (Fan, Chen & Lin 2005), minimisation form.
    if kernel == "linear":
        K = linear_kernel(X, X)
    elif kernel == "rbf":
        K = rbf_kernel(X, X, gamma)
    else:
        raise ValueError(kernel)
    n = len(y)
    Q = y[:, None] * y[None, :] * K
    alpha = np.zeros(n)
    G = -np.ones(n)
    for _ in range(max_iter):
        up = ((y > 0) & (alpha < C)) | ((y < 0) & (alpha > 0))
        low = ((y > 0) & (alpha > 0)) | ((y < 0) & (alpha < C))
        s = -y * G
        i = np.flatnonzero(up)[np.argmax(s[up])]
        if s[i] - s[low].min() < tol:
            break
        cand = low & (s < s[i])
        a = np.maximum(K[i, i] + np.diag(K) - 2 * K[i], 1e-12)
        gain = np.where(cand, (s[i] - s) ** 2 / a, -np.inf)
        j = int(np.argmax(gain))
        # move along d_i = y_i t, d_j = -y_j t
        t = (s[i] - s[j]) / a[j]
        t = min(t, C - alpha[i] if y[i] > 0 else alpha[i], alpha[j] if y[j] > 0 else C - alpha[j])
        old_i, old_j = alpha[i], alpha[j]
        alpha[i] = min(max(alpha[i] + y[i] * t, 0.0), C)
        alpha[j] = min(max(alpha[j] - y[j] * t, 0.0), C)
        G += Q[:, i] * (alpha[i] - old_i) + Q[:, j] * (alpha[j] - old_j)
    s = -y * G
    free = (alpha > 1e-12) & (alpha < C - 1e-12)
    if free.any():
        return alpha, float(s[free].mean())
    return alpha, float((s[up].max() + s[low].min()) / 2)  # no free multiplier: the KKT midpoint
