"""AdaBoost with decision stumps (Li Hang's formulation, labels in {-1, +1}).

Round m fits the stump G_m with the smallest weighted error e_m, gives it the vote
alpha_m = 1/2 log((1 - e_m) / e_m), and re-weights the samples so that the ones G_m got wrong
weigh more in round m + 1. The final classifier is G(x) = sign(sum_m alpha_m G_m(x)).
"""

import numpy as np

ERR_CLIP = 1e-10  # keeps alpha finite for a perfect (or perfectly wrong) stump
TIE_TOL = 1e-12  # errors within TIE_TOL * total weight of each other are tied


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
    return float(np.sum(w[pred != y]))


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
    err = float(np.clip(err, ERR_CLIP, 1.0 - ERR_CLIP))
    return 0.5 * float(np.log((1.0 - err) / err))


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
    new = w * np.exp(-alpha * y * pred)
    return new / new.sum()


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
    N, D = X.shape
    total = float(np.sum(w))
    w_neg = np.where(y != 1, w, 0.0)
    w_pos = np.where(y == 1, w, 0.0)
    pos_total = float(np.sum(w_pos))
    # per feature: thresholds (ascending) and errors of polarity +1, -1 at each
    thresholds, errors = [], []
    for j in range(D):
        order = np.argsort(X[:, j], kind="stable")
        xs = X[order, j]
        # cum_*[k] = weight of class * among the k smallest values (k = 0..N)
        cum_neg = np.concatenate(([0.0], np.cumsum(w_neg[order])))
        cum_pos = np.concatenate(([0.0], np.cumsum(w_pos[order])))
        # k = 0 (threshold min - 1), and every k between two distinct values
        ks = np.concatenate(([0], np.nonzero(xs[1:] > xs[:-1])[0] + 1))
        t = np.concatenate(([xs[0] - 1.0], (xs[ks[1:] - 1] + xs[ks[1:]]) / 2))
        err_plus = cum_neg[ks] + (pos_total - cum_pos[ks])
        thresholds.append(t)
        errors.append(np.stack([err_plus, total - err_plus], axis=1))  # (K, 2): +1, -1
    best = min(float(e.min()) for e in errors)
    for j in range(D):
        tied = np.nonzero(errors[j] <= best + TIE_TOL * total)
        if tied[0].size:
            # np.nonzero is row-major: lowest threshold first, then polarity +1 (column 0)
            k, p = tied[0][0], tied[1][0]
            return (j, float(thresholds[j][k]), 1 if p == 0 else -1)
    raise ValueError("X has no features")


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
    feature, threshold, polarity = stump
    return np.where(X[:, feature] <= threshold, float(polarity), -float(polarity))


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
    N = X.shape[0]
    w = np.full(N, 1.0 / N)
    model = []
    for _ in range(n_rounds):
        stump = fit_stump(X, y, w)
        pred = stump_predict(stump, X)
        err = weighted_error(w, y, pred)
        alpha = compute_alpha(err)
        model.append((alpha, stump))
        if err == 0.0:
            break
        w = update_weights(w, alpha, y, pred)
    return model


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
    f = np.zeros(X.shape[0])
    for alpha, stump in model:
        f += alpha * stump_predict(stump, X)
    return np.where(f >= 0, 1.0, -1.0)
