"""Log-densities and KL against SciPy and tensorflow_probability."""

import numpy as np
import pytest
import tensorflow_probability as tfp
from keras import ops
from scipy import special, stats

import oracles
from keras_vae import distributions

tfd = tfp.distributions
rng = np.random.default_rng(0)


def np_(t):
    return ops.convert_to_numpy(t).astype(np.float64)


def test_gaussian_log_prob_matches_scipy_and_tfp():
    x, mean = rng.normal(size=(2, 50)) * 3
    log_var = rng.normal(size=50) * 2
    ours = np_(distributions.gaussian_log_prob(x.astype("float32"), mean.astype("float32"),
                                               log_var.astype("float32")))
    scipy_ref = stats.norm.logpdf(x, mean, np.exp(0.5 * log_var))
    tfp_ref = tfd.Normal(mean, np.exp(0.5 * log_var)).log_prob(x).numpy()
    np.testing.assert_allclose(ours, scipy_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours, tfp_ref, rtol=1e-5, atol=1e-5)


def test_standard_normal_log_prob_matches_scipy():
    z = rng.normal(size=100) * 4
    np.testing.assert_allclose(
        np_(distributions.standard_normal_log_prob(z.astype("float32"))),
        stats.norm.logpdf(z), rtol=1e-5, atol=1e-5,
    )


def test_bernoulli_log_prob_matches_scipy_and_tfp():
    logits = rng.normal(size=200) * 5
    x = (rng.random(200) < 0.5).astype(np.float64)
    ours = np_(distributions.bernoulli_log_prob(x.astype("float32"), logits.astype("float32")))
    np.testing.assert_allclose(ours, stats.bernoulli.logpmf(x, special.expit(logits)),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours, tfd.Bernoulli(logits=logits).log_prob(x).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_bernoulli_log_prob_is_finite_for_extreme_logits():
    logits = np.array([-1e4, -80.0, 80.0, 1e4], np.float32)
    for value in (0.0, 1.0):
        x = np.full(4, value, np.float32)
        ours = np_(distributions.bernoulli_log_prob(x, logits))
        ref = tfd.Bernoulli(logits=logits.astype(np.float64)).log_prob(x).numpy()
        assert np.all(np.isfinite(ours))
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scale", [0.5, 0.05, 0.004])
def test_discretized_logistic_matches_scipy(scale):
    x = np.concatenate([[0, 1, 127, 128, 254, 255], rng.integers(0, 256, 194)]).astype(np.float64)
    mean = rng.uniform(-0.9, 0.9, size=x.shape)
    ours = np_(distributions.discretized_logistic_log_prob(
        x.astype("float32"), mean.astype("float32"), np.full(x.shape, np.log(scale), "float32")))
    np.testing.assert_allclose(ours, oracles.discretized_logistic_log_prob(x, mean, scale),
                               rtol=2e-4, atol=2e-4)


def test_discretized_logistic_far_tail_is_finite_and_accurate():
    # Bins 30+ scales from the mean: plain sigmoid differences underflow to 0.
    x = np.array([0.0, 10.0, 250.0, 255.0], np.float32)
    mean = np.array([0.9, 0.9, -0.9, -0.9], np.float32)
    log_scale = np.full(4, np.log(0.02), np.float32)
    ours = np_(distributions.discretized_logistic_log_prob(x, mean, log_scale))
    ref = oracles.discretized_logistic_log_prob(x.astype(np.float64), mean.astype(np.float64), 0.02)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, ref, rtol=1e-4)


def test_discretized_logistic_sums_to_one_over_256_values():
    x = np.arange(256, dtype=np.float32)
    for mean, scale in [(0.0, 0.1), (0.7, 0.01), (-1.2, 0.3)]:
        lp = np_(distributions.discretized_logistic_log_prob(
            x, np.full(256, mean, "float32"), np.full(256, np.log(scale), "float32")))
        assert special.logsumexp(lp) == pytest.approx(0.0, abs=1e-5)


def test_kl_matches_tfp():
    mean = rng.normal(size=40) * 2
    log_var = rng.normal(size=40) * 2
    ours = np_(distributions.kl_standard_normal(mean.astype("float32"), log_var.astype("float32")))
    ref = tfd.kl_divergence(tfd.Normal(mean, np.exp(0.5 * log_var)), tfd.Normal(np.float64(0), np.float64(1))).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_kl_matches_monte_carlo_expectation():
    mean, log_var = np.array([0.5, -1.0]), np.array([-0.3, 0.4])
    z = mean + np.exp(0.5 * log_var) * rng.normal(size=(400_000, 2))
    mc = np.mean(stats.norm.logpdf(z, mean, np.exp(0.5 * log_var)) - stats.norm.logpdf(z), axis=0)
    ours = np_(distributions.kl_standard_normal(mean.astype("float32"), log_var.astype("float32")))
    np.testing.assert_allclose(ours, mc, atol=0.01)


def test_log_mean_exp_matches_scipy_over_wide_range():
    x = rng.normal(size=(5000, 3)) * 200
    ours = np_(distributions.log_mean_exp(x.astype("float32"), axis=0))
    ref = special.logsumexp(x, axis=0) - np.log(5000)
    np.testing.assert_allclose(ours, ref, rtol=1e-5)
