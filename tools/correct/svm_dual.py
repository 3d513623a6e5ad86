"""svm_dual with kernels by loops and SMO with second-order working-set selection (Fan, Chen
and Lin 2005): i the maximal violator, j the partner of the largest guaranteed gain (a correct
alternative)."""
import numpy as np


def linear_kernel(X1, X2):
    return np.array([[float(a @ b) for b in X2] for a in X1]).reshape(len(X1), len(X2))


def rbf_kernel(X1, X2, gamma):
    return np.array([[np.exp(-gamma * float((a - b) @ (a - b))) for b in X2] for a in X1]).reshape(len(X1), len(X2))


def dual_objective(alpha, K, y):
    v = alpha * y
    return float(np.sum(alpha) - 0.5 * np.einsum("i,ij,j->", v, K, v))


def weights_from_dual(alpha, X, y):
    return sum(a * t * x for a, t, x in zip(alpha, y, X))


def bias_from_dual(alpha, K, y, C, tol=1e-8):
    free = [i for i in range(len(y)) if tol < alpha[i] < C - tol]
    return float(np.mean([y[i] - sum(alpha[j] * y[j] * K[j, i] for j in range(len(y))) for i in free]))


def decision_function(alpha, b, K_test, y):
    return np.array([sum(row * alpha * y) + b for row in K_test])


def second_order_smo(K, y, C, tol, max_iter):
    """(alpha, b) solving the dual with kernel matrix K."""
    n = len(y)
    alpha = np.zeros(n)
    grad = -np.ones(n)  # gradient of f(alpha) = 0.5 a^T Q a - sum(a), Q = y y^T K
    for _ in range(max_iter):
        up = np.where(y > 0, alpha < C, alpha > 0)
        low = np.where(y > 0, alpha > 0, alpha < C)
        score = -y * grad
        if not up.any() or not low.any():
            break
        i = int(np.flatnonzero(up)[np.argmax(score[up])])
        m = score[i]
        candidates = np.flatnonzero(low & (score < m))
        if m - score[low].min() <= tol or candidates.size == 0:
            break
        b_ij = m - score[candidates]
        a_ij = np.maximum(K[i, i] + K[candidates, candidates] - 2 * K[i, candidates], 1e-12)
        j = int(candidates[np.argmax(b_ij**2 / a_ij)])
        eta = max(K[i, i] + K[j, j] - 2 * K[i, j], 1e-12)
        step = (score[i] - score[j]) / eta
        step = min(step, C - alpha[i] if y[i] > 0 else alpha[i], alpha[j] if y[j] > 0 else C - alpha[j])
        old_i, old_j = alpha[i], alpha[j]
        alpha[i] = min(max(alpha[i] + y[i] * step, 0.0), C)
        alpha[j] = min(max(alpha[j] - y[j] * step, 0.0), C)
        grad += y * (K[:, i] * y[i] * (alpha[i] - old_i) + K[:, j] * y[j] * (alpha[j] - old_j))
    score = -y * grad
    free = (alpha > 0) & (alpha < C)
    if free.any():
        return alpha, float(score[free].mean())
    up = np.where(y > 0, alpha < C, alpha > 0)
    low = np.where(y > 0, alpha > 0, alpha < C)
    return alpha, float((score[up].max() + score[low].min()) / 2)


def smo_fit(X, y, C, kernel="linear", gamma=1.0, tol=1e-3, max_iter=100000):
    if kernel == "linear":
        K = X @ X.T
    elif kernel == "rbf":
        sq = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        K = np.exp(-gamma * sq)
    else:
        raise ValueError(f"no kernel named {kernel!r}")
    return second_order_smo(K, np.asarray(y, dtype=float), C, tol, max_iter)
