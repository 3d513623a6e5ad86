"""priors, from the log densities written out term by term (a correct alternative)."""
import math

import numpy as np


def gaussian_neg_log_prior(w, sigma):
    return float(sum(v * v / (2 * sigma * sigma) + 0.5 * math.log(2 * math.pi) + math.log(sigma)
                     for v in np.ravel(w)))


def laplace_neg_log_prior(w, b):
    return float(sum(abs(v) / b + math.log(2) + math.log(b) for v in np.ravel(w)))


def ridge_lambda_from_prior(noise_var, sigma):
    return noise_var * sigma**-2


def lasso_lambda_from_prior(noise_var, b):
    return noise_var * (1.0 / b)
