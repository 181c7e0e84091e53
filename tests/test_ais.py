"""Annealed importance sampling against the exact log p(x) of a linear-Gaussian model."""

import numpy as np
import pytest

from keras_vae import ais
from linear_gaussian import make_model, make_problem


@pytest.fixture(scope="module")
def problem():
    return make_problem(num_points=20)


def test_ais_converges_to_the_exact_log_likelihood(problem):
    # A poor proposal: importance sampling with few samples is far off...
    model = make_model(problem, mean_shift=0.5, log_var_shift=0.8, seed=0)
    exact = problem["exact"]
    few_steps = exact - model.log_likelihood(problem["x"], method="ais", num_chains=16,
                                             num_steps=5, verbose=0)
    gap = exact - model.log_likelihood(problem["x"], method="ais", num_chains=16,
                                       num_steps=500, verbose=0)
    # ...while 500 annealing steps bring AIS within 0.05 nats of exact.
    assert abs(gap.mean()) < 0.05
    assert np.max(np.abs(gap)) < 0.3
    assert few_steps.mean() > gap.mean() + 0.05


def test_ais_is_exact_with_the_exact_posterior(problem):
    model = make_model(problem, seed=0)
    ll = model.log_likelihood(problem["x"], method="ais", num_chains=4, num_steps=20, verbose=0)
    np.testing.assert_allclose(ll, problem["exact"], atol=2e-3)


def test_sigmoid_schedule():
    b = ais.sigmoid_schedule(10)
    assert b[0] == 0.0 and b[-1] == pytest.approx(1.0) and np.all(np.diff(b) > 0)


def test_bad_arguments(problem):
    model = make_model(problem, seed=0)
    with pytest.raises(ValueError, match="method"):
        model.log_likelihood(problem["x"], method="hmc")
    with pytest.raises(ValueError, match="num_chains"):
        model.log_likelihood(problem["x"], method="ais", num_chains=0)
