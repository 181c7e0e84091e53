import math

import keras
from keras import ops

from keras_vae._checks import check_positive


def soft_bound_log_variance(raw, min_variance, max_variance=None):
    """Softly bounds a raw log-variance to (log min_variance, log max_variance).

    The floor is logaddexp(raw, log min_variance) and the ceiling its mirror
    image, so the map is smooth, monotone, and has a gradient in (0, 1] for
    any finite input: a hard clip would stop the gradient at the bound.
    """
    log_var = ops.logaddexp(raw, math.log(min_variance))
    if max_variance is not None:
        log_var = -ops.logaddexp(-log_var, -math.log(max_variance))
    return log_var


@keras.saving.register_keras_serializable(package="keras_vae")
class VarianceFloor(keras.layers.Layer):
    """Maps an unconstrained output to a log-variance with a soft floor.

    log_var = logaddexp(raw, log(min_variance)), optionally followed by a soft
    ceiling at log(max_variance). Never clips, so gradients stay finite and
    non-zero for any raw input, including +-1e4.

    Args:
        min_variance: Positive float; exp(log_var) stays above it.
        max_variance: Optional float > `min_variance`; exp(log_var) stays below.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: Raw log-variance tensor of any shape.

    Returns:
        The bounded log-variance, same shape as `inputs`.

    Example:

    >>> floor = VarianceFloor(min_variance=1e-3)
    >>> float(keras.ops.exp(floor(keras.ops.array([-100.0])))[0]) >= 1e-3
    True

    Reference:
        Rybkin, Daniilidis and Levine, Simple and Effective VAE Training with
        Calibrated Decoders, arXiv:2006.13202 (why a decoder variance needs a floor).
    """

    def __init__(self, min_variance, max_variance=None, **kwargs):
        super().__init__(**kwargs)
        self.min_variance = check_positive(min_variance, "min_variance")
        if max_variance is not None:
            max_variance = check_positive(max_variance, "max_variance")
            if max_variance <= self.min_variance:
                raise ValueError(
                    "Expected `max_variance` > `min_variance`. Received: "
                    f"min_variance={min_variance}, max_variance={max_variance}"
                )
        self.max_variance = max_variance
        self.built = True

    def call(self, inputs):
        return soft_bound_log_variance(inputs, self.min_variance, self.max_variance)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"min_variance": self.min_variance, "max_variance": self.max_variance}
        )
        return config
