"""The custom train_step against Keras's own trainer doing the same math."""

import keras
import numpy as np
import pytest

from conftest import tiny_networks
from keras_vae import IWAE, VAE


def builtin_variant(cls):
    """The same model trained by Keras's built-in `train_step`.

    `call` returns the per-example bound and `compute_loss` negates its mean,
    so the gradient math goes through Keras's own trainer for this backend.
    """

    class Builtin(cls):
        train_step = keras.Model.train_step
        test_step = keras.Model.test_step
        metrics = keras.Model.metrics

        def call(self, x, training=False):
            terms = self.log_importance_weights(x, self.num_samples, training=training)
            return self.bound(terms)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return -keras.ops.mean(y_pred)

    return Builtin


@pytest.mark.parametrize("cls,k", [(VAE, 1), (IWAE, 5)])
def test_custom_step_matches_builtin_trainer_after_one_sgd_step(cls, k, binary_data):
    models = []
    for variant in (cls, builtin_variant(cls)):
        keras.utils.set_random_seed(0)
        encoder, decoder = tiny_networks()
        model = variant(encoder, decoder, num_samples=k, seed=42)
        model.build((None, 12))
        model.compile(optimizer=keras.optimizers.SGD(0.5))
        models.append(model)
    initial = models[0].get_weights()
    models[1].set_weights(initial)
    for model in models:
        model.train_on_batch(binary_data[:32])
    custom, builtin = (m.get_weights() for m in models)
    moved = max(np.abs(a - b).max() for a, b in zip(custom, initial))
    assert moved > 1e-3
    for a, b in zip(custom, builtin):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
