"""Grading spec of the logistic_regression exercise (CURRICULUM.md, **logistic_regression**).

Every function is compared with the reference on a few small random cases and on the
curriculum's edge cases: logits of exactly -1e3, 0 and +1e3 (a naive sigmoid overflows there,
a naive log-likelihood takes log(0)), and a batch of one. ``sigmoid`` keeps its relative
precision (1e-9) in the left tail, down to values of 1e-300 (clipping z or 0.5 (1 + tanh(z / 2))
fails). ``sigmoid_grad`` loses relative
precision by nature for large |z|, so it is graded with an absolute tolerance; ``fit`` is
deterministic and graded value for value (rtol 1e-9).
"""

from __future__ import annotations

import numpy as np

from mlquiz.grading.numeric import compare, numerical_gradient
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Case, Check, FunctionSpec, Mismatch, Mistake

ref = load_reference("logistic_regression")

# Logits a careless sigmoid cannot survive: exp(710) overflows, 1 - 1/(1 + e^-37) is 0.
EXTREME_LOGITS = np.array([-1e3, -745.5, -710.0, -37.0, 0.0, 37.0, 710.0, 1e3])


# ---------------------------------------------------------------------------------------------
# Inputs


def _data(rng, n, d, scale=1.0):
    """theta (d,), X (n, d) and labels y (n,) in {0, 1} drawn from the model itself."""
    theta = rng.normal(size=d)
    X = rng.normal(scale=scale, size=(n, d))
    y = (rng.random(n) < ref.sigmoid(X @ theta)).astype(float)
    return theta, X, y


def _extreme_data(rng):
    """theta (3,), X (7, 3), y (7,) with logits X @ theta of exactly -1e3, 0 and +1e3, each
    with the label that agrees and the one that does not (a loss of 1e3, finite)."""
    theta = np.array([1.0, 0.5, -0.25])
    X = np.array([
        [1e3, 0.0, 0.0],
        [1e3, 0.0, 0.0],
        [-1e3, 0.0, 0.0],
        [-1e3, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [0.0, 2.0, 4.0],  # 0.5 * 2 - 0.25 * 4 = 0 exactly
        [0.0, 0.0, 0.0],
    ])
    X[6] = rng.normal(size=3)
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, float(rng.random() < 0.5)])
    return theta, X, y


def _logit_cases(rng):
    return [
        Case("random logits, shape (7,)", (rng.normal(scale=3.0, size=7),)),
        Case("logits of shape (3, 4): elementwise", (rng.normal(scale=5.0, size=(3, 4)),)),
        Case("extreme logits: exactly -1e3, 0 and +1e3, and |z| up to 1e3",
             (np.concatenate([EXTREME_LOGITS, rng.uniform(-1e3, 1e3, size=4)]),)),
        Case("a single logit of exactly 0", (np.array([0.0]),)),
        Case("the left tail: logits from -700 to -30, where g(z) is tiny but keeps its "
             "relative precision", (np.concatenate([[-37.0, -30.5], -np.exp(rng.uniform(
                 np.log(30), np.log(700), size=8))]),)),
    ]


def _data_cases(rng):
    return [
        Case("N=8 samples, D=3 features", _data(rng, 8, 3)),
        Case("N=1: a batch of one", _data(rng, 1, 4)),
        Case("logits X @ theta of exactly -1e3, 0 and +1e3", _extreme_data(rng)),
    ]


def _step_cases(rng):
    theta, X, y = _data(rng, 10, 3)
    theta1, X1, y1 = _data(rng, 1, 2)
    return [
        Case("N=10, D=3, lr=0.05", (theta, X, y, 0.05)),
        Case("N=1: a batch of one, lr=0.5", (theta1, X1, y1, 0.5)),
        Case("logits of exactly -1e3, 0 and +1e3, lr=0.01", (*_extreme_data(rng), 0.01)),
    ]


def _fit_data(rng, n, d, scale):
    """A column of ones (the bias), features of the given scale and Bernoulli labels. Small
    features make the log-likelihood flat, so ``fit`` is still far from its optimum after
    ``n_iter`` steps: every step counts, and one step more or less shows."""
    X = np.column_stack([np.ones(n), rng.normal(scale=scale, size=(n, d - 1))])
    y = (rng.random(n) < ref.sigmoid(X @ rng.normal(scale=2.0, size=d))).astype(float)
    return X, y


def _fit_cases(rng):
    X1 = rng.normal(size=(1, 3))
    return [
        Case("N=20, D=3, default lr=0.1 and n_iter=1000", _fit_data(rng, 20, 3, 0.3)),
        Case("N=12, D=4, lr=0.5, n_iter=200", _fit_data(rng, 12, 4, 0.3),
             {"lr": 0.5, "n_iter": 200}),
        Case("N=1: a batch of one, n_iter=50", (X1, np.array([1.0])), {"n_iter": 50}),
        Case("n_iter=1: a single step from theta = 0", _fit_data(rng, 5, 2, 1.0), {"n_iter": 1}),
    ]


# ---------------------------------------------------------------------------------------------
# Independent checks


def _check_probability(case, got, expected):
    values = np.asarray(got, dtype=float)
    if np.all(np.isfinite(values)) and (values.min() < 0 or values.max() > 1):
        return Mismatch("out", "a probability must lie in [0, 1]: got values outside it")
    return None


def _check_at_most_zero(case, got, expected):
    value = np.asarray(got, dtype=float)
    if np.all(np.isfinite(value)) and value.max() > 1e-12:
        return Mismatch("out", "a log-likelihood is a sum of logs of probabilities: it cannot be "
                               "positive")
    return None


def _check_finite_differences(case, got, expected):
    """The gradient against centred differences of the log-likelihood (skipped at extreme
    logits, where differences of values near 1e3 lose their digits)."""
    theta, X, y = case.args
    if np.abs(X @ theta).max() > 50:
        return None
    numeric = numerical_gradient(lambda t: ref.log_likelihood(t, X, y), theta)
    return compare(got, numeric, rtol=1e-5, atol=1e-6, name="gradient")


# ---------------------------------------------------------------------------------------------
# Classic mistakes (each returns what the mistaken formula gives on the case's inputs)


def _fit_variant(X, y, lr=0.1, n_iter=1000, *, scale=None, sign=1.0, steps=0):
    n_samples = X.shape[0]
    theta = np.zeros(X.shape[1])
    for _ in range(n_iter + steps):
        step = ref.gradient(theta, X, y) / (n_samples if scale is None else scale)
        theta = theta + sign * lr * step
    return theta


def _swapped_labels(theta, X, y):
    return ref.log_likelihood(theta, X, 1.0 - y)


FUNCTIONS = [
    FunctionSpec(
        name="sigmoid",
        cases=_logit_cases,
        rtol=1e-9,
        atol=1e-300,  # relative precision wherever g(z) is above 1e-300
        checks=(Check("values in [0, 1]", _check_probability),),
        mistakes=(
            Mistake("the sign is flipped: 1 / (1 + exp(z)) is g(-z); the sigmoid is "
                    "1 / (1 + exp(-z))", lambda z: ref.sigmoid(-z)),
        ),
    ),
    FunctionSpec(
        name="sigmoid_grad",
        cases=_logit_cases,
        rtol=1e-7,
        atol=1e-12,  # g(z)(1 - g(z)) loses relative precision for large |z|
        mistakes=(
            Mistake("returned g(z) itself; its derivative is g(z) (1 - g(z))", ref.sigmoid),
            Mistake("applied z (1 - z) to the logit; the derivative is g(z) (1 - g(z)), "
                    "with g(z) the sigmoid", lambda z: z * (1 - z)),
        ),
    ),
    FunctionSpec(
        name="predict_proba",
        cases=lambda rng: [Case(c.label, c.args[:2]) for c in _data_cases(rng)],
        checks=(Check("values in [0, 1]", _check_probability),),
        mistakes=(
            Mistake("returned the logits X @ theta; the probability is sigmoid(X @ theta)",
                    lambda theta, X: X @ theta),
            Mistake("returned the probability of the label 0, 1 - sigmoid(X @ theta)",
                    lambda theta, X: ref.sigmoid(-(X @ theta))),
        ),
    ),
    FunctionSpec(
        name="log_likelihood",
        cases=_data_cases,
        checks=(Check("at most 0", _check_at_most_zero),),
        mistakes=(
            Mistake("returned the negative log-likelihood (the loss to minimise); the notes "
                    "maximise l(theta) = sum(y log h + (1 - y) log(1 - h)), which is <= 0",
                    lambda theta, X, y: -ref.log_likelihood(theta, X, y)),
            Mistake("averaged over the samples; the log-likelihood is the sum over them",
                    lambda theta, X, y: ref.log_likelihood(theta, X, y) / len(y)),
            Mistake("swapped the labels: y goes with log h and (1 - y) with log(1 - h)",
                    _swapped_labels),
        ),
    ),
    FunctionSpec(
        name="gradient",
        cases=_data_cases,
        checks=(Check("finite differences of the log-likelihood", _check_finite_differences),),
        mistakes=(
            Mistake("the gradient has the wrong sign: X.T @ (h - y) is the gradient of the "
                    "negative log-likelihood; the gradient of the log-likelihood is "
                    "X.T @ (y - h)", lambda theta, X, y: -ref.gradient(theta, X, y)),
            Mistake("averaged over the samples (divided by N); the gradient is the sum "
                    "X.T @ (y - h)", lambda theta, X, y: ref.gradient(theta, X, y) / len(y)),
            Mistake("used the logits X @ theta in place of h = sigmoid(X @ theta)",
                    lambda theta, X, y: X.T @ (y - X @ theta)),
        ),
    ),
    FunctionSpec(
        name="gradient_ascent_step",
        cases=_step_cases,
        mistakes=(
            Mistake("stepped downhill (theta - lr * gradient): the log-likelihood is maximised, "
                    "so the step adds lr * X.T @ (y - h)",
                    lambda theta, X, y, lr: theta - lr * ref.gradient(theta, X, y)),
            Mistake("divided the gradient by N; this single step uses the summed gradient "
                    "X.T @ (y - h) (only fit uses the mean)",
                    lambda theta, X, y, lr: theta + lr * ref.gradient(theta, X, y) / len(y)),
            Mistake("returned only the update lr * gradient, not theta + lr * gradient",
                    lambda theta, X, y, lr: lr * ref.gradient(theta, X, y)),
        ),
    ),
    FunctionSpec(
        name="fit",
        cases=_fit_cases,
        rtol=1e-9,
        atol=1e-12,
        mistakes=(
            Mistake("used the summed gradient X.T @ (y - h); fit steps with the mean gradient "
                    "X.T @ (y - h) / N", lambda X, y, **kw: _fit_variant(X, y, scale=1.0, **kw)),
            Mistake("stepped downhill (theta - lr * gradient / N): the log-likelihood is "
                    "maximised", lambda X, y, **kw: _fit_variant(X, y, sign=-1.0, **kw)),
            Mistake("made one step too many: fit makes exactly n_iter steps from theta = 0",
                    lambda X, y, **kw: _fit_variant(X, y, steps=1, **kw)),
            Mistake("made one step too few: fit makes exactly n_iter steps from theta = 0",
                    lambda X, y, **kw: _fit_variant(X, y, steps=-1, **kw)),
        ),
    ),
]
