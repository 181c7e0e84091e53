"""Mixed precision: float16/bfloat16 networks, float32 log-weights, loss scaling on float16."""

import keras
import numpy as np
import pytest

from conftest import tiny_networks
from keras_vae import IWAE


@pytest.fixture(params=["mixed_float16", "mixed_bfloat16"])
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    yield request.param
    keras.mixed_precision.set_global_policy("float32")


def test_trains_hundreds_of_steps_with_float32_log_weights(policy, binary_data):
    x = np.concatenate([binary_data] * 5)  # 320 examples, batch 4: 80 steps an epoch
    model = IWAE(*tiny_networks(), num_samples=5, seed=0)
    # Plain SGD is not invariant to the gradient's scale (Adam would be): had
    # the step skipped `optimizer.scale_loss`, the float16 optimizer would
    # unscale unscaled gradients by 1/32768 and the bound would not move.
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    before = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)["iwae_bound"]
    history = model.fit(x, batch_size=4, epochs=4, verbose=0).history
    after = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)["iwae_bound"]
    for values in history.values():
        assert np.all(np.isfinite(values))
    assert after > before + 0.5, (before, after)
    assert model.decoder.get_layer("loc").compute_dtype == policy.split("_")[1]
    terms = model.log_importance_weights(x[:4], 3)
    for key in ("log_w", "log_px_z", "log_qz", "z"):
        assert keras.backend.standardize_dtype(terms[key].dtype) == "float32", key
    ll = model.log_likelihood(x[:8], num_samples=200, verbose=0)
    assert ll.dtype == np.float64 and np.all(np.isfinite(ll)) and np.all(ll < 0)
