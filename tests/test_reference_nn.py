"""The neural-network references against independent oracles: centred finite differences,
hand-derived closed forms, and the step-by-step derivation of the notes."""

import numpy as np
import pytest

from mlquiz.grading.numeric import numerical_gradient
from mlquiz.grading.references import load_reference

backprop = load_reference("backprop")
bn_forward = load_reference("bn_forward")
bn_backward = load_reference("bn_backward")


def test_dense_forward_closed_form():
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    W = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
    b = np.array([0.5, -0.5, 1.0])
    expected = np.array([[1.5, 1.5, 1.0], [3.5, -1.5, 8.0]])
    np.testing.assert_allclose(backprop.dense_forward(x, W, b), expected)


@pytest.mark.parametrize("n, d_in, d_out", [(4, 3, 2), (1, 2, 5)])
def test_dense_backward_matches_finite_differences(n, d_in, d_out):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((n, d_in)), rng.standard_normal((d_in, d_out)), rng.standard_normal(d_out)
    dz = rng.standard_normal((n, d_out))
    dx, dW, db = backprop.dense_backward(dz, x, W)
    np.testing.assert_allclose(dx, numerical_gradient(lambda v: np.sum(dz * backprop.dense_forward(v, W, b)), x), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(dW, numerical_gradient(lambda v: np.sum(dz * backprop.dense_forward(x, v, b)), W), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(db, numerical_gradient(lambda v: np.sum(dz * backprop.dense_forward(x, W, v)), b), rtol=1e-7, atol=1e-9)


def _cost(x, y, weights, biases):
    a = x
    for W, b in zip(weights, biases):
        a = 1 / (1 + np.exp(-(a @ W + b)))
    return 0.5 * np.sum((a - y) ** 2)


@pytest.mark.parametrize("sizes, n", [([3, 2], 4), ([2, 4, 3, 1], 5), ([3, 3, 2], 1)])
def test_backprop_matches_finite_differences(sizes, n):
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal((a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal(b) for b in sizes[1:]]
    x, y = rng.standard_normal((n, sizes[0])), rng.uniform(size=(n, sizes[-1]))
    gw, gb = backprop.backprop(x, y, weights, biases)
    for i in range(len(weights)):
        def by_weight(v, i=i):
            return _cost(x, y, [v if j == i else w for j, w in enumerate(weights)], biases)

        def by_bias(v, i=i):
            return _cost(x, y, weights, [v if j == i else b for j, b in enumerate(biases)])

        np.testing.assert_allclose(gw[i], numerical_gradient(by_weight, weights[i]), rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(gb[i], numerical_gradient(by_bias, biases[i]), rtol=1e-6, atol=1e-10)


def test_backprop_single_neuron_by_hand():
    # a = s(0) = 1/2, dC/dz = (a - y) a (1 - a) = (0.5 - 1) / 4; dC/dW = x dC/dz
    gw, gb = backprop.backprop(np.array([[2.0]]), np.array([[1.0]]), [np.array([[0.0]])], [np.array([0.0])])
    np.testing.assert_allclose(gb[0], [-0.125])
    np.testing.assert_allclose(gw[0], [[-0.25]])


def test_batchnorm_forward_by_hand():
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    out = bn_forward.batchnorm_forward(x, np.array([2.0, 1.0]), np.array([0.0, 5.0]), eps=0.0)
    np.testing.assert_allclose(out, [[-2.0, 4.0], [2.0, 6.0]])


def test_batchnorm_forward_batch_of_one_is_beta():
    beta = np.array([0.5, -1.0, 2.0])
    out = bn_forward.batchnorm_forward(np.array([[3.0, 4.0, 5.0]]), np.ones(3), beta)
    np.testing.assert_array_equal(out, beta[None, :])


def test_train_step_running_statistics_use_the_unbiased_variance():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3)) * 3 + 1
    out, mean, var = bn_forward.batchnorm_train_step(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), momentum=0.25)
    np.testing.assert_allclose(mean, 0.25 * x.mean(0))
    np.testing.assert_allclose(var, 0.75 + 0.25 * np.var(x, axis=0, ddof=1))
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-12)
    with pytest.raises(ValueError):
        bn_forward.batchnorm_train_step(x[:1], np.ones(3), np.zeros(3), np.zeros(3), np.ones(3))


def test_inference_uses_running_statistics():
    x = np.array([[2.0], [4.0]])
    out = bn_forward.batchnorm_inference(x, np.array([3.0]), np.array([1.0]), np.array([1.0]), np.array([4.0]), eps=0.0)
    np.testing.assert_allclose(out, [[2.5], [5.5]])


@pytest.mark.parametrize("n, d, scale", [(4, 3, 1.0), (7, 2, 100.0), (2, 1, 0.01)])
def test_batchnorm_backward_matches_finite_differences(n, d, scale):
    rng = np.random.default_rng(3)
    x = scale * rng.standard_normal((n, d))
    gamma, beta, dout = rng.uniform(0.5, 2, d), rng.standard_normal(d), rng.standard_normal((n, d))
    dx, dgamma, dbeta = bn_backward.batchnorm_backward(dout, x, gamma)
    f = bn_forward.batchnorm_forward
    np.testing.assert_allclose(dx, numerical_gradient(lambda v: np.sum(dout * f(v, gamma, beta)), x, h=1e-5 * scale), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(dgamma, numerical_gradient(lambda v: np.sum(dout * f(x, v, beta)), gamma), rtol=1e-6)
    np.testing.assert_allclose(dbeta, numerical_gradient(lambda v: np.sum(dout * f(x, gamma, v)), beta), rtol=1e-6)


def test_batchnorm_backward_equals_the_step_by_step_derivation():
    """The notes' chain rule through var and mu, written out step by step."""
    rng = np.random.default_rng(4)
    x, dout, gamma, eps = rng.standard_normal((5, 3)), rng.standard_normal((5, 3)), rng.uniform(1, 2, 3), 1e-5
    n = x.shape[0]
    mu = x.mean(0)
    var = ((x - mu) ** 2).mean(0)
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * (x - mu), 0) * -0.5 * (var + eps) ** -1.5
    dmu = np.sum(-dx_hat / np.sqrt(var + eps), 0) + dvar * np.mean(-2 * (x - mu), 0)
    dx_expected = dx_hat / np.sqrt(var + eps) + dvar * 2 * (x - mu) / n + dmu / n
    dx, _, _ = bn_backward.batchnorm_backward(dout, x, gamma, eps)
    np.testing.assert_allclose(dx, dx_expected, rtol=1e-10, atol=1e-12)


def test_batchnorm_backward_batch_of_one():
    dout = np.array([[1.0, -2.0, 3.0]])
    dx, dgamma, dbeta = bn_backward.batchnorm_backward(dout, np.array([[4.0, 5.0, 6.0]]), np.ones(3))
    np.testing.assert_array_equal(dx, np.zeros((1, 3)))
    np.testing.assert_array_equal(dgamma, np.zeros(3))
    np.testing.assert_array_equal(dbeta, dout[0])
