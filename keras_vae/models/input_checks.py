"""Checks of user data before any work is done, so a bad array fails fast and changes nothing.

Arrays are checked whole before training starts. Streams (Python
generators, `keras.utils.PyDataset`, `tf.data.Dataset`, torch `DataLoader`) are checked batch by
batch as `fit` reads them, before the batch reaches a train step, so a NaN
in batch i stops training with the weights of batch i - 1 intact.
"""

import types

import keras
import numpy as np
from keras import ops

from keras_vae import likelihoods


def batch_inputs(batch):
    """The model input of a batch: `x` of `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(batch)
    return x[0] if isinstance(x, (tuple, list)) else x


class _CheckedPyDataset(keras.utils.PyDataset):
    """A `PyDataset` whose batches are checked as they are read."""

    def __init__(self, inner, check):
        super().__init__(workers=inner.workers, use_multiprocessing=inner.use_multiprocessing,
                         max_queue_size=inner.max_queue_size)
        self.inner, self.check = inner, check

    def __len__(self):
        return len(self.inner)

    @property
    def num_batches(self):
        return self.inner.num_batches

    def __getitem__(self, index):
        batch = self.inner[index]
        self.check(batch_inputs(batch), index)
        return batch

    def on_epoch_end(self):
        self.inner.on_epoch_end()


def _checked_dataloader(loader, check):
    """A `DataLoader` (Keras accepts no other torch type) over `loader`'s checked batches."""
    import torch

    class Checked(torch.utils.data.IterableDataset):
        def __iter__(self):
            for index, batch in enumerate(loader):
                check(batch_inputs(batch), index)
                yield batch

        def __len__(self):
            return len(loader)

    return torch.utils.data.DataLoader(Checked(), batch_size=None)


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
        of the first bad example) and the likelihood's support. Streams are
        not read here: `fit` and `log_likelihood` check each of their batches.
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

    def _check_batch(self, x, index):
        self.check_data(np.asarray(ops.convert_to_numpy(x)), f"x (batch {index})")

    def _checked_stream(self, x):
        """Wraps a stream so each batch is checked before the step sees it."""
        if isinstance(x, types.GeneratorType):
            return (self._check_batch(batch_inputs(b), i) or b for i, b in enumerate(x))
        if isinstance(x, keras.utils.PyDataset):
            return _CheckedPyDataset(x, self._check_batch)
        if type(x).__name__ == "DataLoader" and type(x).__module__.startswith("torch"):
            return _checked_dataloader(x, self._check_batch)
        if type(x).__module__.startswith("tensorflow") and hasattr(x, "enumerate"):
            import tensorflow as tf

            def check(index, batch):
                def run(i, values):
                    self._check_batch(values.numpy(), int(i))
                    return True

                ok = tf.py_function(run, [index, batch_inputs(batch)], tf.bool)
                with tf.control_dependencies([ok]):
                    return tf.nest.map_structure(tf.identity, batch)

            return x.enumerate().map(check)
        return x

    def _warn_if_grey(self, x):
        if not getattr(self, "trained_on_binary_pixels", False) or not isinstance(x, np.ndarray):
            return
        if x.size and not np.isin(x, (0, 1)).all():
            import warnings

            warnings.warn("This model was trained on binary pixels (a binarized-MNIST zoo "
                          "entry) and `x` holds grey levels strictly between 0 and 1: fine-tuning "
                          "on them changes what the model describes. Binarize first "
                          "(keras_vae.datasets.binarize) unless that is intended.", stacklevel=3)

    def fit(self, x=None, y=None, *args, **kwargs):
        self.check_data(x, "x")
        self._warn_if_grey(x)
        validation = kwargs.get("validation_data")
        if validation is not None and not isinstance(validation, (tuple, list)):
            self.check_data(validation, "validation_data")
        if x is not None and not (isinstance(x, np.ndarray) or keras.ops.is_tensor(x)):
            x = self._checked_stream(x)
        try:
            return super().fit(x, y, *args, **kwargs)
        except Exception as error:
            # tf.data reports the check's ValueError wrapped in its own error type.
            message = str(error)
            if "`x (batch " in message and not isinstance(error, ValueError):
                start = message.index("`x (batch ")
                raise ValueError(message[start:].split("\n")[0]) from error
            raise

    def predict(self, x, *args, **kwargs):
        self.check_data(x, "x")
        return super().predict(x, *args, **kwargs)

    def predict_on_batch(self, x):
        self.check_data(x, "x")
        return super().predict_on_batch(x)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self.check_data(x, "x")
        return super().evaluate(x, y, *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        self.check_data(x, "x")
        return super().train_on_batch(x, y, *args, **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        self.check_data(x, "x")
        return super().test_on_batch(x, y, *args, **kwargs)
