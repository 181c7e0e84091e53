"""Gradients of a scalar function of one array, taken natively per backend."""

import keras
import numpy as np
from keras import ops


def value_and_grad(fn, x):
    """Returns (sum(fn(x)), d sum(fn(x)) / dx) as NumPy float64 arrays."""
    x = np.asarray(x, np.float32)
    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        xt = tf.Variable(x)
        with tf.GradientTape() as tape:
            y = ops.sum(fn(xt))
        g = tape.gradient(y, xt)
    elif name == "jax":
        import jax

        y, g = jax.value_and_grad(lambda v: ops.sum(fn(v)))(ops.convert_to_tensor(x))
    else:
        xt = ops.convert_to_tensor(x).requires_grad_(True)
        y = ops.sum(fn(xt))
        y.backward()
        g = xt.grad
    return np.float64(ops.convert_to_numpy(y)), ops.convert_to_numpy(g).astype(np.float64)

