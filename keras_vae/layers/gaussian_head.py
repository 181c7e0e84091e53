import keras

from keras_vae._checks import check_positive_int
from keras_vae.layers.variance_floor import VarianceFloor


@keras.saving.register_keras_serializable(package="keras_vae")
class GaussianHead(keras.layers.Layer):
    """Projects features to the `(mean, log_var)` of a diagonal Gaussian.

    Two `Dense` projections (or 1x1 convolutions on image features); the
    log-variance passes through a `VarianceFloor` with a soft floor and, by
    default, a soft ceiling so that an extreme pre-activation cannot make
    exp(log_var) overflow.

    Args:
        units: Number of latent dimensions (or output channels with `conv`).
        min_variance: Soft floor on the variance. Defaults to 1e-6.
        max_variance: Soft ceiling on the variance, or None. Defaults to 1e4.
        conv: If True, use 1x1 `Conv2D` projections on `(batch, h, w, c)` input.
        kernel_initializer: Initializer of both projections.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: Features of shape `(batch, features)` (or `(batch, h, w, c)`).

    Returns:
        Tuple `(mean, log_var)`, each of shape `(batch, units)` (or
        `(batch, h, w, units)`).

    Example:

    >>> head = GaussianHead(2)
    >>> mean, log_var = head(keras.ops.ones((3, 5)))
    >>> tuple(mean.shape), tuple(log_var.shape)
    ((3, 2), (3, 2))
    """

    def __init__(
        self,
        units,
        min_variance=1e-6,
        max_variance=1e4,
        conv=False,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units")
        self.conv = bool(conv)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

        def projection(name):
            if self.conv:
                return keras.layers.Conv2D(
                    self.units, 1, kernel_initializer=self.kernel_initializer,
                    dtype=self.dtype_policy, name=name,
                )
            return keras.layers.Dense(
                self.units, kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy, name=name,
            )

        self.mean_projection = projection("mean")
        self.log_var_projection = projection("log_var")
        self.floor = VarianceFloor(min_variance, max_variance, dtype=self.dtype_policy)
        self.min_variance = self.floor.min_variance
        self.max_variance = self.floor.max_variance

    def build(self, input_shape):
        self.mean_projection.build(input_shape)
        self.log_var_projection.build(input_shape)
        self.built = True

    def call(self, inputs):
        mean = self.mean_projection(inputs)
        log_var = self.floor(self.log_var_projection(inputs))
        return mean, log_var

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[:-1]) + (self.units,)
        return shape, shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "min_variance": self.min_variance,
                "max_variance": self.max_variance,
                "conv": self.conv,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
