import keras
from keras import ops

from keras_vae._checks import check_num_samples


@keras.saving.register_keras_serializable(package="keras_vae")
class GaussianSampler(keras.layers.Layer):
    """Draws reparameterized samples from a diagonal Gaussian.

    z = mean + exp(log_var / 2) * eps with eps ~ N(0, I), so gradients flow to
    `mean` and `log_var`. Randomness comes only from the layer's
    `keras.random.SeedGenerator`, whose state is a non-trainable variable:
    inside a compiled JAX step it advances with the rest of the model state.

    Args:
        seed: Optional integer seed for the layer's `SeedGenerator`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        mean: Tensor of shape `(batch, ...)`.
        log_var: Tensor of the same shape as `mean`.
        num_samples: Optional positive integer K. When given, samples get a
            leading axis of size K: `(K, batch, ...)`.
        noise: Optional standard-normal noise of the output shape, used
            instead of drawing fresh noise (deterministic tests, common random
            numbers when comparing models).

    Returns:
        Samples of shape `mean.shape`, or `(num_samples,) + mean.shape`.

    Example:

    >>> sampler = GaussianSampler(seed=0)
    >>> z = sampler(keras.ops.zeros((4, 2)), keras.ops.zeros((4, 2)), num_samples=3)
    >>> tuple(z.shape)
    (3, 4, 2)

    Reference:
        Kingma and Welling, Auto-Encoding Variational Bayes, arXiv:1312.6114.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and not isinstance(seed, int):
            raise ValueError(
                f"Expected `seed` to be an integer or None. Received: seed={seed!r}"
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def call(self, mean, log_var, num_samples=None, noise=None):
        mean = ops.convert_to_tensor(mean)
        log_var = ops.convert_to_tensor(log_var)
        if tuple(mean.shape) != tuple(log_var.shape):
            raise ValueError(
                "Expected `mean` and `log_var` of the same shape. Received: "
                f"mean.shape={tuple(mean.shape)}, log_var.shape={tuple(log_var.shape)}"
            )
        shape = ops.shape(mean)
        static_shape = tuple(mean.shape)
        if num_samples is not None:
            num_samples = check_num_samples(num_samples)
            shape = (num_samples,) + tuple(shape)
            static_shape = (num_samples,) + static_shape
            mean, log_var = mean[None], log_var[None]
        if noise is None:
            noise = keras.random.normal(shape, dtype=mean.dtype, seed=self.seed_generator)
        else:
            noise = ops.cast(ops.convert_to_tensor(noise), mean.dtype)
            if len(noise.shape) != len(static_shape) or any(
                a is not None and b is not None and a != b
                for a, b in zip(noise.shape, static_shape)
            ):
                raise ValueError(
                    f"Expected `noise` of shape {static_shape}. "
                    f"Received: noise.shape={tuple(noise.shape)}"
                )
        return mean + ops.exp(0.5 * log_var) * noise

    def save_own_variables(self, store):
        # Saved with the weights so that a restored model (or a resumed
        # training run) continues the same noise stream instead of replaying it.
        store["seed_state"] = keras.ops.convert_to_numpy(self.seed_generator.state.value)

    def load_own_variables(self, store):
        if "seed_state" in store:
            self.seed_generator.state.assign(store["seed_state"][...])

    def compute_output_shape(self, mean_shape, log_var_shape=None, num_samples=None):
        if num_samples is None:
            return tuple(mean_shape)
        return (num_samples,) + tuple(mean_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config
