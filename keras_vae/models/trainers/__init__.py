"""Picks the one trainer mixin for the active backend.

Only the module for `keras.backend.backend()` is imported, so a TensorFlow
user never imports torch or jax and vice versa.
"""

import keras

_backend = keras.backend.backend()

if _backend == "tensorflow":
    from keras_vae.models.trainers.tensorflow_trainer import TensorFlowTrainer as Trainer
elif _backend == "jax":
    from keras_vae.models.trainers.jax_trainer import JAXTrainer as Trainer
elif _backend == "torch":
    from keras_vae.models.trainers.torch_trainer import TorchTrainer as Trainer
else:
    raise ImportError(
        f"keras_vae supports the tensorflow, jax and torch backends; "
        f"KERAS_BACKEND is {_backend!r}."
    )

__all__ = ["Trainer"]
