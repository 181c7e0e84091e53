"""MIWAE, CIWAE, PIWAE and the STL / DReG gradient estimators."""

import keras
import numpy as np
import pytest

from conftest import tiny_networks
from keras_vae import CIWAE, IWAE, MIWAE, PIWAE, VAE, likelihoods
from linear_gaussian import make_problem, make_trainable_model

M, K = 3, 4


def shared(*classes_and_kwargs):
    encoder, decoder = tiny_networks()
    models = [cls(encoder, decoder, seed=0, **kw) for cls, kw in classes_and_kwargs]
    for m in models:
        m.build((None, 12))
    return models, encoder, decoder


def values(model, x, noise):
    return {k: float(v) for k, v in model.compute_losses(x, noise=noise).items()}


def test_collapse_identities(binary_data):
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(M * K, 64, 3)).astype("float32")
    (vae_k, iwae_k, iwae_mk, miwae1, miwae, ciwae0, ciwae1, piwae), _, _ = shared(
        (VAE, {"num_samples": K}), (IWAE, {"num_samples": K}), (IWAE, {"num_samples": M * K}),
        (MIWAE, {"num_groups": 1, "num_samples": K}), (MIWAE, {"num_groups": M, "num_samples": K}),
        (CIWAE, {"beta": 0.0, "num_samples": K}), (CIWAE, {"beta": 1.0, "num_samples": K}),
        (PIWAE, {"num_groups": M, "num_samples": K}))
    first = noise[:K]
    assert values(miwae1, binary_data, first)["miwae_bound"] == pytest.approx(
        values(iwae_k, binary_data, first)["iwae_bound"], rel=1e-6)
    assert values(ciwae1, binary_data, first)["ciwae_bound"] == pytest.approx(
        values(vae_k, binary_data, first)["elbo"], rel=1e-6)
    assert values(ciwae0, binary_data, first)["ciwae_bound"] == pytest.approx(
        values(iwae_k, binary_data, first)["iwae_bound"], rel=1e-6)
    assert values(piwae, binary_data, noise)["iwae_bound"] == pytest.approx(
        values(iwae_mk, binary_data, noise)["iwae_bound"], rel=1e-6)
    per_group = np.mean([values(iwae_k, binary_data, noise[g * K:(g + 1) * K])["iwae_bound"]
                         for g in range(M)])
    assert values(miwae, binary_data, noise)["miwae_bound"] == pytest.approx(per_group, rel=1e-5)


@pytest.mark.parametrize("estimator", ["iwae", "stl", "dreg"])
def test_one_sample_collapses_to_the_elbo_and_loss_is_the_true_bound(binary_data, estimator):
    noise = np.random.default_rng(1).normal(size=(M, 64, 3)).astype("float32")
    (vae, iwae, miwae), _, _ = shared((VAE, {}), (IWAE, {"num_samples": 1, "gradient_estimator": estimator}),
                                      (MIWAE, {"num_groups": M, "num_samples": 1,
                                               "gradient_estimator": estimator}))
    elbo = values(vae, binary_data, noise[:1])["elbo"]
    got = values(iwae, binary_data, noise[:1])
    assert got["iwae_bound"] == pytest.approx(elbo, rel=1e-6)
    assert got["loss"] == pytest.approx(-elbo, rel=1e-6)
    mean_elbo = np.mean([values(vae, binary_data, noise[i:i + 1])["elbo"] for i in range(M)])
    assert values(miwae, binary_data, noise)["miwae_bound"] == pytest.approx(mean_elbo, rel=1e-5)


def _grads(model, x, noise, variables):
    _, grads = model.gradients(lambda: model.compute_losses(x, noise=noise)["loss"], variables)
    return [np.zeros(tuple(v.shape)) if g is None else keras.ops.convert_to_numpy(g).astype(np.float64)
            for v, g in zip(variables, grads)]


def test_piwae_gradients_are_l_mk_for_the_decoder_and_miwae_for_the_encoder(binary_data):
    noise = np.random.default_rng(2).normal(size=(M * K, 64, 3)).astype("float32")
    (piwae, iwae_mk, miwae), encoder, decoder = shared(
        (PIWAE, {"num_groups": M, "num_samples": K}), (IWAE, {"num_samples": M * K}),
        (MIWAE, {"num_groups": M, "num_samples": K}))
    enc, dec = encoder.trainable_variables, decoder.trainable_variables
    for got, want in zip(_grads(piwae, binary_data, noise, dec), _grads(iwae_mk, binary_data, noise, dec)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    for got, want in zip(_grads(piwae, binary_data, noise, enc), _grads(miwae, binary_data, noise, enc)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    differs = [np.abs(a - b).max() for a, b in zip(_grads(iwae_mk, binary_data, noise, enc),
                                                   _grads(miwae, binary_data, noise, enc))]
    assert max(differs) > 1e-3  # the two encoder objectives really differ


@pytest.mark.parametrize("cls,kw", [(IWAE, {"num_samples": K}), (MIWAE, {"num_groups": M, "num_samples": K})])
def test_dreg_leaves_the_decoder_gradient_unchanged(binary_data, cls, kw):
    noise = np.random.default_rng(3).normal(size=(kw.get("num_groups", 1) * K, 64, 3)).astype("float32")
    (plain, dreg), encoder, decoder = shared((cls, kw), (cls, {**kw, "gradient_estimator": "dreg"}))
    dec = decoder.trainable_variables
    for got, want in zip(_grads(dreg, binary_data, noise, dec), _grads(plain, binary_data, noise, dec)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("estimator,k", [("dreg", K), ("stl", 1)])
def test_encoder_gradient_is_unbiased(binary_data, estimator, k):
    # One example repeated: the batch-mean loss averages the gradient over
    # draws. 30 batches give a mean and its standard error per coordinate.
    (plain, other), encoder, _ = shared((IWAE, {"num_samples": k}),
                                        (IWAE, {"num_samples": k, "gradient_estimator": estimator}))
    x = np.repeat(binary_data[:1], 300, axis=0)
    rng = np.random.default_rng(4)
    enc = encoder.trainable_variables
    diffs = []
    for _ in range(30):
        noise = rng.normal(size=(k, 300, 3)).astype("float32")
        a = np.concatenate([g.ravel() for g in _grads(other, x, noise, enc)])
        b = np.concatenate([g.ravel() for g in _grads(plain, x, noise, enc)])
        diffs.append(a - b)
    diffs = np.array(diffs)
    z = diffs.mean(0) / (diffs.std(0, ddof=1) / np.sqrt(len(diffs)) + 1e-12)
    assert np.max(np.abs(z)) < 6


@pytest.mark.parametrize("num_samples", [1, 5])
def test_stl_encoder_gradient_is_zero_at_the_true_posterior(num_samples):
    model, encoder, problem = make_trainable_model("stl", num_samples)
    noise = np.random.default_rng(5).normal(size=(num_samples, 20, 2)).astype("float32")
    grads = _grads(model, problem["x"], noise, encoder.trainable_variables)
    assert max(np.abs(g).max() for g in grads) < 1e-4
    plain, plain_encoder, _ = make_trainable_model("iwae", num_samples)
    plain_grads = _grads(plain, problem["x"], noise, plain_encoder.trainable_variables)
    assert max(np.abs(g).max() for g in plain_grads) > 1e-2  # the score term is not zero


def test_every_bound_is_below_the_exact_log_likelihood():
    from linear_gaussian import make_model

    problem = make_problem(num_points=200, seed=2)
    exact = problem["exact"].mean()
    for cls, kw in [(VAE, {}), (IWAE, {"num_samples": 16}), (MIWAE, {"num_groups": 4, "num_samples": 4}),
                    (CIWAE, {"beta": 0.3, "num_samples": 16}), (PIWAE, {"num_groups": 4, "num_samples": 4})]:
        model = make_model(problem, cls=cls, mean_shift=0.3, log_var_shift=0.4, seed=0, **kw)
        bound = float(model.compute_losses(problem["x"])[model.bound_name])
        assert bound < exact, (cls.__name__, bound, exact)


def test_bad_arguments():
    encoder, decoder = tiny_networks()
    with pytest.raises(ValueError, match="gradient_estimator"):
        IWAE(encoder, decoder, gradient_estimator="reinforce")
    with pytest.raises(ValueError, match="num_groups"):
        MIWAE(encoder, decoder, num_groups=0)
    with pytest.raises(ValueError, match="beta"):
        CIWAE(encoder, decoder, beta=1.5)


@pytest.mark.parametrize("cls,kw", [
    (IWAE, {"num_samples": 3, "gradient_estimator": "stl"}),
    (IWAE, {"num_samples": 3, "gradient_estimator": "dreg"}),
    (MIWAE, {"num_groups": 2, "num_samples": 3, "gradient_estimator": "dreg"}),
    (CIWAE, {"beta": 0.3, "num_samples": 3}),
    (PIWAE, {"num_groups": 2, "num_samples": 3}),
])
def test_every_variant_trains_with_fit(binary_data, cls, kw):
    model = cls(*tiny_networks(), seed=0, **kw)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    logs = model.fit(binary_data, batch_size=16, epochs=3, verbose=0).history
    assert logs[model.bound_name][-1] > logs[model.bound_name][0]
    np.testing.assert_allclose(logs["loss"], [-b for b in logs[model.bound_name]], rtol=1e-5)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        stream = tf.data.Dataset.from_tensor_slices(binary_data).batch(16)  # unknown batch size
        assert np.isfinite(model.fit(stream, epochs=1, verbose=0).history["loss"][-1])
