"""Exercise: AdaBoost with decision stumps (AdaBoost; Li Hang's formulation, labels in {-1, +1}).

Replace each ``raise NotImplementedError`` with your implementation (numpy only), then grade
your file:

    mlquiz grade exercises/adaboost.py

Each function is called on seeded random inputs and compared with a reference implementation;
a failure report names the seed, so ``mlquiz grade exercises/adaboost.py --seed S`` reproduces
it. ``mlquiz hint adaboost`` gives progressive hints.

Conventions (graded): a stump is ``(feature, threshold, polarity)``, an int, a float and +1 or
-1; ties between stumps go to the lowest feature, then the lowest threshold, then polarity +1;
a stump with zero weighted error ends the fit; ``adaboost_predict`` maps a score of 0 to +1.
"""

import numpy as np


def weighted_error(w, y, pred):
    """Weighted classification error of a prediction.

    Parameters
    ----------
    w : ndarray, shape (N,)
        Sample weights (they sum to 1 during boosting).
    y : ndarray, shape (N,)
        True labels in {-1, +1}.
    pred : ndarray, shape (N,)
        Predicted labels in {-1, +1} (any numeric dtype).

    Returns
    -------
    float
        ``e = sum(w[pred != y])``.

    Notes
    -----
    e_m = sum_i w_mi I(G_m(x_i) != y_i).
    """
    raise NotImplementedError


def compute_alpha(err):
    """Vote of a weak classifier with weighted error ``err``.

    Parameters
    ----------
    err : float
        Weighted error, clipped to [1e-10, 1 - 1e-10] so the vote stays finite.

    Returns
    -------
    float
        ``alpha = 0.5 * log((1 - err) / err)``.

    Notes
    -----
    alpha_m = 1/2 log((1 - e_m) / e_m): positive when e_m < 1/2, zero at 1/2.
    """
    raise NotImplementedError


def update_weights(w, alpha, y, pred):
    """Re-weight the samples after a round.

    Parameters
    ----------
    w : ndarray, shape (N,)
        Current sample weights.
    alpha : float
        Vote of the classifier of this round.
    y : ndarray, shape (N,)
        True labels in {-1, +1}.
    pred : ndarray, shape (N,)
        The classifier's predictions in {-1, +1}.

    Returns
    -------
    ndarray, shape (N,)
        New weights, summing to 1.

    Notes
    -----
    w_{m+1,i} = w_mi exp(-alpha_m y_i G_m(x_i)) / Z_m, with
    Z_m = sum_i w_mi exp(-alpha_m y_i G_m(x_i)) the normaliser.
    """
    raise NotImplementedError


def fit_stump(X, y, w):
    """The decision stump with the smallest weighted error.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Training inputs.
    y : ndarray, shape (N,)
        Labels in {-1, +1}.
    w : ndarray, shape (N,)
        Sample weights (non-negative).

    Returns
    -------
    tuple (int, float, int)
        ``(feature, threshold, polarity)``: predicts ``polarity`` where
        ``X[:, feature] <= threshold`` and ``-polarity`` elsewhere.

    Notes
    -----
    Candidates: every feature j, every threshold (a + b) / 2 between consecutive distinct values
    of X[:, j] plus min(X[:, j]) - 1 (every sample on the ``<=`` side), polarity +1 and -1.
    With the samples of feature j sorted and k of them on the left,

        e(+1) = sum_{left, y=-1} w + sum_{right, y=+1} w,     e(-1) = sum(w) - e(+1),

    so one cumulative sum per class gives every threshold at once. Errors within 1e-12 * sum(w)
    of the smallest are tied: the lowest feature wins, then the lowest threshold, then +1.
    """
    raise NotImplementedError


def stump_predict(stump, X):
    """Predictions of a decision stump.

    Parameters
    ----------
    stump : tuple (int, float, int)
        ``(feature, threshold, polarity)``.
    X : ndarray, shape (M, D)
        Inputs.

    Returns
    -------
    ndarray, shape (M,)
        ``polarity`` where ``X[:, feature] <= threshold``, ``-polarity`` elsewhere.
    """
    raise NotImplementedError


def adaboost_fit(X, y, n_rounds):
    """Fit AdaBoost with decision stumps.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Training inputs.
    y : ndarray, shape (N,)
        Labels in {-1, +1}.
    n_rounds : int
        Maximal number of rounds.

    Returns
    -------
    list of (float, tuple)
        ``[(alpha_m, stump_m), ...]``, at most ``n_rounds`` of them.

    Notes
    -----
    Start from w_1i = 1 / N. Each round: G_m = fit_stump(X, y, w_m), e_m its weighted error,
    alpha_m = compute_alpha(e_m), w_{m+1} = update_weights(w_m, alpha_m, y, G_m(X)).
    A stump with exactly zero weighted error is kept and ends the fit (the data are separated).
    """
    raise NotImplementedError


def adaboost_predict(model, X):
    """Predictions of a fitted AdaBoost model.

    Parameters
    ----------
    model : list of (float, tuple)
        ``[(alpha_m, stump_m), ...]`` as returned by ``adaboost_fit``.
    X : ndarray, shape (M, D)
        Inputs.

    Returns
    -------
    ndarray, shape (M,)
        Labels in {-1, +1}.

    Notes
    -----
    f(x) = sum_m alpha_m G_m(x); G(x) = sign(f(x)), with sign(0) taken as +1.
    """
    raise NotImplementedError
