"""Observation models p(x | z): small objects with `log_prob(x, params)`.

The decoder maps z to the likelihood's parameters; the likelihood turns them
into log p(x | z) summed over the event axes, and checks that data lie in its
support before training or evaluation starts. The three built-in likelihoods
are registered by name; any object with `log_prob(x, params)` and `mean(params)`
can be passed instead.

Shapes: `x` is `(batch, *event)`; each parameter tensor is
`(num_samples, batch, *event)`; `log_prob` returns `(num_samples, batch)`.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_vae import distributions
from keras_vae._checks import check_positive
from keras_vae.layers.variance_floor import soft_bound_log_variance


def _sum_event(values, x):
    event_axes = tuple(range(2, 2 + len(x.shape) - 1))
    return ops.sum(values, axis=event_axes) if event_axes else values


def _check_finite(x, name):
    bad = ~np.isfinite(x)
    if bad.any():
        row = int(np.argwhere(bad.reshape(len(x), -1).any(axis=1))[0, 0])
        raise ValueError(
            f"`{name}` contains NaN or inf (first at example index {row}). "
            "Clean or drop those examples before training or evaluation."
        )


class Likelihood:
    """Base class: subclasses implement `log_prob`, `mean` and `check_data`."""

    name = None

    def log_prob(self, x, params):
        raise NotImplementedError

    def mean(self, params):
        raise NotImplementedError

    def check_data(self, x, name="x"):
        """Raises ValueError if the NumPy array `x` is outside the support."""
        _check_finite(x, name)

    def num_params(self):
        """Number of tensors the decoder must output (1 or 2)."""
        return 1

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


@keras.saving.register_keras_serializable(package="keras_vae")
class Bernoulli(Likelihood):
    """Bernoulli pixels; the decoder outputs logits; x in [0, 1]."""

    name = "bernoulli"

    def log_prob(self, x, params):
        return _sum_event(distributions.bernoulli_log_prob(x, params), x)

    def mean(self, params):
        return ops.sigmoid(params)

    def check_data(self, x, name="x"):
        _check_finite(x, name)
        if x.size and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"The Bernoulli likelihood expects `{name}` in [0, 1]. Received "
                f"values in [{x.min()}, {x.max()}]; scale 8-bit images by 1/255 "
                "(and binarize) first, or use likelihood='discretized_logistic'."
            )


@keras.saving.register_keras_serializable(package="keras_vae")
class Gaussian(Likelihood):
    """Diagonal Gaussian on real-valued x.

    With one decoder output (the mean), the variance is fixed at `variance`.
    With two outputs `(mean, raw_log_var)`, the variance is learned and softly
    floored at `min_variance` (an unfloored learned variance collapses onto
    the data and the likelihood diverges).
    """

    name = "gaussian"

    def __init__(self, variance=1.0, min_variance=1e-3, learned=False):
        self.variance = check_positive(variance, "variance")
        self.min_variance = check_positive(min_variance, "min_variance")
        self.learned = bool(learned)

    def _split(self, params):
        if isinstance(params, (tuple, list)):
            if len(params) != 2:
                raise ValueError(
                    "The Gaussian likelihood expects the decoder to return a mean "
                    f"or (mean, raw_log_var). Received {len(params)} outputs."
                )
            return params[0], soft_bound_log_variance(params[1], self.min_variance)
        if self.learned:
            raise ValueError(
                "Gaussian(learned=True) expects the decoder to return "
                "(mean, raw_log_var); it returned a single tensor."
            )
        return params, None

    def log_prob(self, x, params):
        mean, log_var = self._split(params)
        if log_var is None:
            log_var = ops.full_like(mean, math.log(self.variance))
        return _sum_event(distributions.gaussian_log_prob(x, mean, log_var), x)

    def mean(self, params):
        return self._split(params)[0]

    def num_params(self):
        return 2 if self.learned else 1

    def get_config(self):
        return {"variance": self.variance, "min_variance": self.min_variance,
                "learned": self.learned}


@keras.saving.register_keras_serializable(package="keras_vae")
class DiscretizedLogistic(Likelihood):
    """Discretized logistic on 8-bit pixels x in {0, ..., 255}.

    The decoder outputs `(mean, raw_log_scale)` on the [-1, 1] scale; the
    scale is softly floored at `min_scale`. Log-probabilities are exact
    discrete masses, so bits/dim = -log p(x) / (D ln 2) with no Jacobian.
    """

    name = "discretized_logistic"

    def __init__(self, num_bins=256, min_scale=1e-3):
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 2:
            raise ValueError(
                f"Expected `num_bins` to be an integer >= 2. Received: num_bins={num_bins!r}"
            )
        self.num_bins = num_bins
        self.min_scale = check_positive(min_scale, "min_scale")

    def _split(self, params):
        if not isinstance(params, (tuple, list)) or len(params) != 2:
            raise ValueError(
                "The discretized logistic likelihood expects the decoder to "
                "return (mean, raw_log_scale)."
            )
        mean, raw = params
        # Floor the variance exp(2 log_scale) softly at min_scale**2.
        log_scale = 0.5 * soft_bound_log_variance(2.0 * raw, self.min_scale**2)
        return mean, log_scale

    def log_prob(self, x, params):
        mean, log_scale = self._split(params)
        values = distributions.discretized_logistic_log_prob(
            x, mean, log_scale, self.num_bins
        )
        return _sum_event(values, x)

    def mean(self, params):
        return distributions.discretized_logistic_mean(self._split(params)[0], self.num_bins)

    def num_params(self):
        return 2

    def check_data(self, x, name="x"):
        _check_finite(x, name)
        top = self.num_bins - 1
        if x.size and (x.min() < 0 or x.max() > top or np.any(x != np.round(x))):
            raise ValueError(
                f"The discretized logistic likelihood expects `{name}` to hold "
                f"integer pixel values in [0, {top}]. Received values in "
                f"[{x.min()}, {x.max()}]"
                + ("" if np.all(x == np.round(x)) else " that are not all integers")
                + "; pass raw 8-bit images, not rescaled ones."
            )


def check_data(likelihood, x, name="x"):
    """Checks NumPy data against `likelihood`'s support (finiteness at least)."""
    checker = getattr(likelihood, "check_data", None)
    if checker is None:
        _check_finite(x, name)
    else:
        checker(x, name)


_REGISTRY = {cls.name: cls for cls in (Bernoulli, Gaussian, DiscretizedLogistic)}


def get(identifier):
    """Returns a likelihood from a name, a config dict, or a likelihood object."""
    if isinstance(identifier, str):
        if identifier not in _REGISTRY:
            raise ValueError(
                f"Unknown likelihood {identifier!r}. Expected one of "
                f"{sorted(_REGISTRY)} or an object with a `log_prob(x, params)` method."
            )
        return _REGISTRY[identifier]()
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if callable(getattr(identifier, "log_prob", None)):
        return identifier
    raise ValueError(
        "Expected `likelihood` to be a name, a config dict, or an object with "
        f"a `log_prob(x, params)` method. Received: likelihood={identifier!r}"
    )


def serialize(likelihood):
    return keras.saving.serialize_keras_object(likelihood)
