"""Large-K log-likelihood against the exact log p(x) of a linear-Gaussian model."""

import keras
import numpy as np
import pytest

from linear_gaussian import make_model, make_problem


@pytest.fixture(scope="module")
def problem():
    return make_problem()


@pytest.mark.parametrize("num_samples", [1, 7, 5000])
def test_exact_posterior_gives_exact_log_likelihood_for_any_k(problem, num_samples):
    model = make_model(problem, seed=0)
    ll = model.log_likelihood(problem["x"], num_samples=num_samples, verbose=0)
    np.testing.assert_allclose(ll, problem["exact"], rtol=1e-5, atol=2e-4)


def test_perturbed_encoder_approaches_exact_from_below():
    problem = make_problem(num_points=200, seed=1)
    model = make_model(problem, mean_shift=0.15, log_var_shift=0.3, seed=0)
    exact = problem["exact"]
    elbo_gap = exact - model.log_likelihood(problem["x"], num_samples=1, verbose=0)
    ll, ess = model.log_likelihood(problem["x"], num_samples=5000, return_ess=True, verbose=0)
    # Delta method: Var(L_K) ~= Var(w) / (K E[w]^2) ~= 1/ESS - 1/K per point.
    sd = np.sqrt(np.maximum(1.0 / ess - 1.0 / 5000, 0.0))
    gap = exact - ll
    # K=1 sits KL(q || p(z | x)) below, known in closed form here...
    v = np.exp(problem["enc_log_var"])
    kl = np.sum(0.5 * (np.exp(0.3) + 0.15**2 / v - 1.0 - 0.3))
    assert abs(elbo_gap.mean() - kl) < 4 * elbo_gap.std() / np.sqrt(len(elbo_gap))
    # ...while K=5000 is within its own noise of exact...
    assert abs(gap.mean()) < 4 * np.sqrt(np.mean(sd**2) / len(gap)) + 1e-3
    # ...and no point lies above exact by more than its own noise.
    assert np.all(gap > -4 * sd - 1e-3)
    assert np.all(ess > 100)


def test_exact_posterior_bounds_equal_exact_in_training_losses(problem):
    model = make_model(problem, num_samples=3, seed=0)
    losses = model.compute_losses(problem["x"])
    assert float(keras.ops.convert_to_numpy(losses["iwae_bound"])) == pytest.approx(problem["exact"].mean(), abs=1e-3)
