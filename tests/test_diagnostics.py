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
