"""bn_forward, feature by feature with plain sums (a correct alternative)."""
import numpy as np


def _stats(column):
    n = column.shape[0]
    mu = sum(column) / n
    return mu, sum((v - mu) ** 2 for v in column) / n


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    out = np.empty(x.shape)
    for d in range(x.shape[1]):
        mu, var = _stats(x[:, d])
        out[:, d] = gamma[d] * (x[:, d] - mu) / (var + eps) ** 0.5 + beta[d]
    return out


def batchnorm_train_step(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    n = x.shape[0]
    if n < 2:
        raise ValueError("the unbiased variance needs two samples")
    mu = np.array([_stats(x[:, d])[0] for d in range(x.shape[1])])
    unbiased = np.array([_stats(x[:, d])[1] for d in range(x.shape[1])]) * n / (n - 1)
    return (batchnorm_forward(x, gamma, beta, eps), running_mean + momentum * (mu - running_mean),
            running_var + momentum * (unbiased - running_var))


def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / np.sqrt(running_var + eps)
    return x * scale + (beta - running_mean * scale)
