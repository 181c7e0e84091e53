"""Two stochastic layers: log-weights, bounds and estimators against a known model."""

import keras
import numpy as np
import pytest
from scipy import stats

from keras_vae import CIWAE, IWAE, MIWAE, PIWAE, VAE, networks
from linear_gaussian_2layer import (D1, D2, decoder_variables, encoder_variables, make_model,
                                    make_problem)


@pytest.fixture(scope="module")
def problem():
    return make_problem()


def _noise(k, n, seed=0):
    return np.random.default_rng(seed).normal(size=(k, n, D1 + D2)).astype("float32")


def _grads(model, x, noise, variables):
    _, grads = model.gradients(lambda: model.compute_losses(x, noise=noise)["loss"], variables)
    return [np.zeros(tuple(v.shape)) if g is None else keras.ops.convert_to_numpy(g).astype(np.float64)
            for v, g in zip(variables, grads)]


def test_log_weights_match_scipy_densities(problem):
    model = make_model(problem, mean_shift=0.3, log_var_shift=0.2)
    x, noise = problem["x"], _noise(3, 20)
    got = keras.ops.convert_to_numpy(model.log_importance_weights(x, 3, noise=noise)["log_w"])
    (k1, b1, lv1), (k2, b2, lv2) = problem["q1"], problem["q2"]
    m1, s1 = x @ k1 + b1 + 0.3, np.exp(0.5 * (lv1 + 0.2))
    z1 = m1 + s1 * noise[..., :D1]
    m2, s2 = z1 @ k2 + b2 + 0.3, np.exp(0.5 * (lv2 + 0.2))
    z2 = m2 + s2 * noise[..., D1:]
    norm = stats.norm.logpdf
    log_q = norm(z1, m1, s1).sum(-1) + norm(z2, m2, s2).sum(-1)
    prior_mean = z2 * problem["alpha"] + problem["a"]
    log_p = (norm(z2).sum(-1) + norm(z1, prior_mean, np.sqrt(problem["s"])).sum(-1)
             + norm(x, z1 @ problem["w"].T + problem["b"], problem["sigma"]).sum(-1))
    np.testing.assert_allclose(got, log_p - log_q, rtol=1e-5, atol=1e-4)


def test_exact_posterior_gives_exact_log_likelihood_for_every_sample(problem):
    model = make_model(problem, seed=0)
    log_w = keras.ops.convert_to_numpy(model.log_importance_weights(problem["x"], 7)["log_w"])
    np.testing.assert_allclose(log_w, np.broadcast_to(problem["exact"], log_w.shape), atol=2e-4)


def test_is_and_ais_converge_and_every_bound_is_below_exact(problem):
    exact = problem["exact"]
    model = make_model(problem, mean_shift=0.4, log_var_shift=0.6, seed=0)
    gaps = {k: (exact - model.log_likelihood(problem["x"], num_samples=k, verbose=0)).mean()
            for k in (1, 5000)}
    assert gaps[1] > 0.3 and 0 < gaps[5000] < 0.05
    ais = model.log_likelihood(problem["x"][:10], method="ais", num_chains=16, num_steps=300,
                               verbose=0)
    assert abs((exact[:10] - ais).mean()) < 0.05
    for cls, kw in [(VAE, {}), (IWAE, {"num_samples": 16}), (MIWAE, {"num_groups": 4, "num_samples": 4}),
                    (CIWAE, {"beta": 0.3, "num_samples": 16}), (PIWAE, {"num_groups": 4, "num_samples": 4})]:
        m = make_model(problem, cls=cls, mean_shift=0.4, log_var_shift=0.6, seed=0, **kw)
        assert float(m.compute_losses(problem["x"])[m.bound_name]) < exact.mean(), cls.__name__


@pytest.mark.parametrize("estimator", ["stl", "dreg"])
def test_path_gradients_vanish_at_the_true_posterior(problem, estimator):
    # log_w is constant in z there, so only the score term (dropped by STL and
    # DReG) could move the encoders, whose second layer sees z_1 as input.
    noise = _noise(5, 20, seed=1)
    model = make_model(problem, num_samples=5, gradient_estimator=estimator, seed=0)
    grads = _grads(model, problem["x"], noise, encoder_variables(model))
    assert max(np.abs(g).max() for g in grads) < 1e-4
    plain = make_model(problem, num_samples=5, seed=0)
    grads = _grads(plain, problem["x"], noise, encoder_variables(plain))
    assert max(np.abs(g).max() for g in grads[len(grads) // 2:]) > 1e-2  # q(z_2 | z_1) too


def test_piwae_decoder_and_prior_follow_l_mk_and_encoders_miwae(problem):
    noise = _noise(12, 20, seed=2)
    kw = dict(mean_shift=0.3, log_var_shift=0.4, seed=0)
    piwae = make_model(problem, cls=PIWAE, num_groups=3, num_samples=4, **kw)
    iwae = make_model(problem, cls=IWAE, num_samples=12, **kw)
    miwae = make_model(problem, cls=MIWAE, num_groups=3, num_samples=4, **kw)
    x = problem["x"]
    for part, oracle in ((decoder_variables, iwae), (encoder_variables, miwae)):
        for got, want in zip(_grads(piwae, x, noise, part(piwae)), _grads(oracle, x, noise, part(oracle))):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    prior_grads = _grads(piwae, x, noise, piwae.decoders[1].trainable_variables)
    assert max(np.abs(g).max() for g in prior_grads) > 1e-3  # p(z_1 | z_2) is trained


def test_the_papers_two_layer_model_trains_saves_and_samples(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.random((40, 20)) < 0.3).astype("float32")
    encoders, decoders = networks.mlp_hierarchy((20,), latent_dims=(6, 3),
                                                hidden_units=((10, 10), (5, 5)))
    model = IWAE(encoders, decoders, num_samples=4, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(x, batch_size=10, epochs=8, verbose=0).history["iwae_bound"]
    assert history[-1] > history[0] and np.all(np.isfinite(history))
    assert model.latent_shape == (9,) and model.latent_sizes == (6, 3)
    noise = rng.normal(size=(30, 40, 9)).astype("float32")
    before = model.log_likelihood(x, num_samples=30, noise=noise, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.num_stochastic_layers == 2
    np.testing.assert_allclose(loaded.log_likelihood(x, num_samples=30, noise=noise, verbose=0),
                               before, rtol=1e-5)
    a, b = (keras.ops.convert_to_numpy(model.sample(5, seed=3)) for _ in range(2))
    assert a.shape == (5, 20) and np.array_equal(a, b) and np.all((a >= 0) & (a <= 1))


def test_the_2layer_recipe_has_the_papers_layer_sizes():
    from keras_vae import recipes

    # Burda et al. 2015, section 5: x -> 200 -> 200 -> h1 (100) -> 100 -> 100 -> h2 (50);
    # each Gaussian layer has a mean and a variance head.
    model = recipes.RECIPES["mnist_iwae_2layer"].build(seed=0)
    model.build((None, 784))

    def kernels(net):
        return [tuple(v.shape) for v in net.weights if len(v.shape) == 2]

    assert [kernels(e) for e in model.encoders] == [
        [(784, 200), (200, 200), (200, 100), (200, 100)],
        [(100, 100), (100, 100), (100, 50), (100, 50)]]
    assert [kernels(d) for d in model.decoders] == [
        [(100, 200), (200, 200), (200, 784)],
        [(50, 100), (100, 100), (100, 100), (100, 100)]]
    assert "784-200-200-[z1: 100]-100-100-[z2: 50]" in recipes.RECIPES[
        "mnist_iwae_2layer"].architecture_text()


@pytest.mark.parametrize("cls,kw", [(VAE, {}), (MIWAE, {"num_groups": 2, "num_samples": 2}),
                                    (CIWAE, {"beta": 0.5, "num_samples": 3}),
                                    (PIWAE, {"num_groups": 2, "num_samples": 2})])
def test_every_variant_fits_a_hierarchy(cls, kw):
    x = (np.random.default_rng(1).random((20, 12)) < 0.4).astype("float32")
    model = cls(*networks.mlp_hierarchy((12,), (4, 2), ((6,), (4,))), seed=0, **kw)
    model.compile(optimizer="adam")
    logs = model.fit(x, batch_size=10, epochs=2, verbose=0).history
    assert np.all(np.isfinite(logs[model.bound_name]))


def test_bad_hierarchies():
    encoders, decoders = networks.mlp_hierarchy((12,), (4, 2), ((6,), (4,)))
    with pytest.raises(ValueError, match="one encoder network and one decoder network per stochastic"):
        IWAE(encoders, decoders[:1])
    with pytest.raises(ValueError, match="analytic_kl=True"):
        VAE(encoders, decoders, analytic_kl=True)
    wrong_prior = networks.mlp_encoder((2,), 3, (4,))
    model = IWAE(encoders, [decoders[0], wrong_prior])
    with pytest.raises(ValueError, match=r"decoder\[1\] must return the \(mean, log_var\) of z_1"):
        model.build((None, 12))
    model = IWAE(encoders, decoders)
    model.build((None, 12))
    with pytest.raises(ValueError, match="Expected `noise` with last axis 6"):
        model.log_importance_weights(np.zeros((2, 12), "float32"), 3, noise=np.zeros((3, 2, 5)))
    with pytest.raises(ValueError, match="one entry of `hidden_units` per stochastic layer"):
        networks.mlp_hierarchy((12,), (4, 2), ((6,),))
    with pytest.raises(ValueError, match=r"at least one stochastic layer in `latent_dims`.*\(\)"):
        networks.mlp_hierarchy((12,), ())
