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


def variable_gradients(variables, fn):
    """Gradients of the scalar `fn()` w.r.t. Keras `variables`, as NumPy arrays (None -> 0)."""
    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            y = fn()
        grads = tape.gradient(y, variables)
    elif name == "jax":
        import jax

        def f(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn()

        grads = jax.grad(f)([v.value for v in variables])
    else:
        for v in variables:
            v.value.grad = None
        fn().backward()
        grads = [v.value.grad for v in variables]
    return [np.zeros(tuple(v.shape)) if g is None else ops.convert_to_numpy(g).astype(np.float64)
            for v, g in zip(variables, grads)]
