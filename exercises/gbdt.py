"""Exercise: gradient boosted decision trees (GBDT) for regression with squared loss.

Replace each ``raise NotImplementedError`` with your implementation (numpy only), then grade
your file:

    mlquiz grade exercises/gbdt.py

Each function is called on seeded random inputs and compared with a reference implementation;
a failure report names the seed, so ``mlquiz grade exercises/gbdt.py --seed S`` reproduces it.
``mlquiz hint gbdt`` gives progressive hints.

Trees and models are your own objects (dicts, tuples, classes: your choice). ``fit_tree`` and
``gbdt_fit`` are graded through your ``tree_predict`` and ``gbdt_predict``, on the training
points, on points exactly on a threshold, and on new points. Conventions (graded): ``x <=
threshold`` goes left; ties go to the lowest feature, then the lowest threshold; a leaf's value
is the mean of its targets; ``f_0 = mean(y)``.
"""

import numpy as np


def negative_gradient(y, f):
    """Negative gradient of the squared loss 0.5 (y - f)^2 with respect to f.

    Parameters
    ----------
    y : ndarray, shape (N,)
        Targets.
    f : ndarray, shape (N,)
        Current predictions.

    Returns
    -------
    ndarray, shape (N,)
        ``r = y - f``, the residuals.
    """
    raise NotImplementedError


def fit_tree(X, r, max_depth, min_samples_leaf=1):
    """Fit a CART regression tree by least squares.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Inputs.
    r : ndarray, shape (N,)
        Targets (in boosting, the residuals).
    max_depth : int
        Depth of the deepest leaf (0: the root is a leaf).
    min_samples_leaf : int
        A split leaving fewer samples than this on a side is not a candidate.

    Returns
    -------
    tree
        The fitted tree, in any representation that ``tree_predict`` accepts.

    Notes
    -----
    Each node chooses the feature j and threshold t (a midpoint (a + b) / 2 between consecutive
    distinct values of X[:, j] in the node) minimising
    sum_{x_j <= t} (r - c_L)^2 + sum_{x_j > t} (r - c_R)^2, where c_L, c_R are the means of r on
    each side. Values within 1e-12 of the node's squared error are tied: lowest feature, then
    lowest threshold. A node is a leaf, valued mean(r), at depth ``max_depth``, when r is
    constant, or when no candidate lowers its squared error by more than 1e-12 of it.
    """
    raise NotImplementedError


def tree_predict(tree, X):
    """Predictions of a regression tree.

    Parameters
    ----------
    tree
        A tree returned by ``fit_tree``.
    X : ndarray, shape (M, D)
        Inputs.

    Returns
    -------
    ndarray, shape (M,)
        The value of the leaf each row falls into (``x[j] <= t`` goes left).
    """
    raise NotImplementedError


def gbdt_fit(X, y, n_estimators, learning_rate, max_depth):
    """Fit gradient boosted regression trees with squared loss.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Inputs.
    y : ndarray, shape (N,)
        Real-valued targets.
    n_estimators : int
        Number of trees M.
    learning_rate : float
        Shrinkage applied to every tree.
    max_depth : int
        Depth of every tree.

    Returns
    -------
    model
        The fitted model (f_0, the learning rate and the M trees), in any representation that
        ``gbdt_predict`` accepts.

    Notes
    -----
    f_0 = mean(y); for m = 1..M: r_m = y - f_{m-1}(X), tree_m = fit_tree(X, r_m, max_depth),
    f_m = f_{m-1} + learning_rate * tree_m.
    """
    raise NotImplementedError


def gbdt_predict(model, X):
    """Predictions of a fitted GBDT model.

    Parameters
    ----------
    model
        A model returned by ``gbdt_fit``.
    X : ndarray, shape (M, D)
        Inputs.

    Returns
    -------
    ndarray, shape (M,)
        f_M(x) = f_0 + learning_rate * sum_m tree_m(x).
    """
    raise NotImplementedError
