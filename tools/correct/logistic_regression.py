"""logistic_regression through log-sum-exp and an explicit loop in fit (a correct alternative)."""
import numpy as np


def sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=float)))


def sigmoid_grad(z):
    z = np.asarray(z, dtype=float)
    return np.exp(-np.logaddexp(0.0, -z) - np.logaddexp(0.0, z))


def predict_proba(theta, X):
    return np.array([sigmoid(row @ theta) for row in X]).reshape(len(X))


def log_likelihood(theta, X, y):
    z = X @ theta
    return float(np.sum(y * z - np.logaddexp(0.0, z)))


def gradient(theta, X, y):
    return sum((y[n] - sigmoid(X[n] @ theta)) * X[n] for n in range(len(y)))


def gradient_ascent_step(theta, X, y, lr):
    return theta + lr * X.T @ (y - predict_proba(theta, X))


def fit(X, y, lr=0.1, n_iter=1000):
    theta = np.zeros(X.shape[1])
    for _ in range(n_iter):
        theta = theta + lr * (X.T @ (y - sigmoid(X @ theta))) / X.shape[0]
    return theta
