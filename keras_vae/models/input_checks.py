"""Checks of user data before any work is done, so a bad array fails fast and changes nothing."""

import keras
import numpy as np
from keras import ops

from keras_vae import likelihoods


class InputChecks:
    """Mixin: `check_data`, and `fit`/`evaluate`/`*_on_batch` that call it first."""

    def _expected_event_shape(self):
        if self.input_event_shape is not None:
            return self.input_event_shape
        inputs = getattr(self.encoder, "inputs", None)
        if inputs:
            return tuple(inputs[0].shape[1:])
        return None

    def check_data(self, x, name="x"):
        """Raises a ValueError naming `name` if `x` cannot be fed to this model.

        Checks the shape against the encoder's input, NaN/inf (with the index
        of the first bad example) and the likelihood's support. Datasets and
        generators are not read here (`log_likelihood` checks each of their
        batches; `fit` on a stream does not).
        """
        if x is None or not (isinstance(x, np.ndarray) or keras.ops.is_tensor(x)):
            return
        x = np.asarray(ops.convert_to_numpy(x))
        expected = self._expected_event_shape()
        if x.ndim == 0 or (expected is not None and (
            x.ndim != len(expected) + 1
            or any(e is not None and e != s for e, s in zip(expected, x.shape[1:]))
        )):
            raise ValueError(
                f"Expected `{name}` of shape (batch,) + {expected}. "
                f"Received: {name}.shape={x.shape}"
            )
        likelihoods.check_data(self.likelihood, x, name)

    def fit(self, x=None, y=None, *args, **kwargs):
        self.check_data(x, "x")
        validation = kwargs.get("validation_data")
        if validation is not None and not isinstance(validation, (tuple, list)):
            self.check_data(validation, "validation_data")
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self.check_data(x, "x")
        return super().evaluate(x, y, *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        self.check_data(x, "x")
        return super().train_on_batch(x, y, *args, **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        self.check_data(x, "x")
        return super().test_on_batch(x, y, *args, **kwargs)
