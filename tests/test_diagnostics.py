import keras
import numpy as np
import pytest

from conftest import tiny_networks
from keras_vae import IWAE, diagnostics
from linear_gaussian import make_trainable_model


def test_active_units_count_dimensions_whose_posterior_mean_varies(binary_data):
    encoder, decoder = tiny_networks()
    model = IWAE(encoder, decoder, seed=0)
    model.build((None, 12))
    head = encoder.get_layer("posterior").mean_projection
    kernel, bias = (np.array(w) for w in head.get_weights())
    kernel[:, 1] = 0.0  # dimension 1 ignores x: inactive
    kernel[:, 0] *= 50.0  # dimension 0 varies a lot: active
    head.set_weights([kernel, bias])
    count, variances = diagnostics.active_units(model, binary_data, batch_size=20)
    mean, _ = model.encode(binary_data)
    expected = keras.ops.convert_to_numpy(mean).astype(np.float64).var(axis=0)
    np.testing.assert_allclose(variances, expected, rtol=1e-5, atol=1e-12)
    assert variances[1] < 1e-12 and variances[0] > 0.01
    assert count == int(np.sum(expected > 0.01))


def test_gradient_snr_dreg_beats_iwae_for_the_encoder_near_the_posterior():
    # Near q = p(z | x) the DReG encoder gradient loses its noise (the path
    # term vanishes) while the IWAE gradient keeps its score-function noise
    # (Tucker et al. 2019); the decoder gradient is the same estimator in both.
    snr = {}
    for estimator in ("iwae", "dreg"):
        model, _, problem = make_trainable_model(estimator, 64, mean_shift=0.1)
        snr[estimator] = diagnostics.gradient_snr(model, problem["x"][:8], num_draws=40)
    assert snr["dreg"]["encoder"] > 2 * snr["iwae"]["encoder"]
    assert snr["dreg"]["decoder"] == pytest.approx(snr["iwae"]["decoder"], rel=0.3)
    assert snr["iwae"]["encoder_per_parameter"].size > 0


def test_active_units_by_layer_counts_the_upper_layer_as_a_brute_force_estimate(binary_data):
    from keras_vae import networks

    encoders, decoders = networks.mlp_hierarchy((12,), (4, 3), hidden_units=((8,), (6,)))
    model = IWAE(encoders, decoders, num_samples=2, seed=0)
    model.build((None, 12))
    head = encoders[1].get_layer("posterior")
    kernel, bias, lv_kernel, lv_bias = [keras.ops.convert_to_numpy(w) for w in head.weights]
    kernel[:, 1:] = 0.0  # z_2 units 1 and 2: a mean that ignores z_1, so inactive
    kernel[:, 0] = 3.0
    bias[:] = 0.0
    head.set_weights([kernel, bias, lv_kernel, lv_bias])
    counts = diagnostics.active_units_by_layer(model, binary_data, num_samples=200)
    assert counts[0] == diagnostics.active_units(model, binary_data)[0]
    # Brute force: E_q[z_2 | x] as the mean of 4000 joint samples of q(z_1, z_2 | x).
    z = keras.ops.convert_to_numpy(model.log_importance_weights(binary_data, 4000)["z"])
    brute = int(np.sum(z[..., 4:].mean(axis=0).var(axis=0) > 0.01))
    assert counts[1] == brute == 1
