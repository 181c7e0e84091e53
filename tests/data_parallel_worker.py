"""Trains one model on one device and again data-parallel on 2 CPU devices; prints the gap.

Run as a script (the device count must be fixed before the backend starts):
    KERAS_BACKEND=jax python tests/data_parallel_worker.py
JAX uses `keras.distribution.DataParallel`, TensorFlow `tf.distribute.MirroredStrategy`.
The noise is part of each batch, so both runs see the same draws whichever
replica holds an example.
"""

import json
import os
import sys

BACKEND = os.environ["KERAS_BACKEND"]
if BACKEND == "jax":
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from conftest import tiny_networks  # noqa: E402
from keras_vae import IWAE  # noqa: E402

K, BATCH, STEPS = 4, 8, 6


class NoiseFromBatch(IWAE):
    """IWAE whose sampler noise comes with the data as `y` (batch, K, latent)."""

    def _unpack(self, data):
        x, noise, _ = keras.utils.unpack_x_y_sample_weight(data)
        self._batch_noise = ops.transpose(ops.cast(noise, "float32"), (1, 0, 2))
        return super()._unpack((x,))

    def compute_losses(self, x, training=False, noise=None):
        return super().compute_losses(x, training, noise=self._batch_noise)


def train(x, noise):
    """(initial weights, trained weights, last logged loss)."""
    keras.utils.set_random_seed(0)
    model = NoiseFromBatch(*tiny_networks(), num_samples=K, seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.build((None, 12))
    initial = [np.array(w) for w in model.get_weights()]
    history = model.fit(x, noise, batch_size=BATCH, epochs=1, shuffle=False, verbose=0).history
    return initial, [np.array(w) for w in model.get_weights()], history["loss"][-1]


def _gap(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b))


def main():
    if BACKEND == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    rng = np.random.default_rng(0)
    x = (rng.random((BATCH * STEPS, 12)) < 0.4).astype("float32")
    noise = rng.standard_normal((BATCH * STEPS, K, 3)).astype("float32")
    initial, single, single_loss = train(x, noise)
    if BACKEND == "jax":
        devices = keras.distribution.list_devices("cpu")
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        start, parallel, parallel_loss = train(x, noise)
        replicas = len(devices)
    else:
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            start, parallel, parallel_loss = train(x, noise)
        replicas = strategy.num_replicas_in_sync
    print(json.dumps({"replicas": replicas, "same_start": _gap(initial, start),
                      "moved": _gap(initial, single), "max_weight_gap": _gap(single, parallel),
                      "loss_single": float(single_loss), "loss_parallel": float(parallel_loss)}))


if __name__ == "__main__":
    main()
