"""keras_vae: VAE and IWAE density models for Keras 3 (TensorFlow, JAX, PyTorch).

Importing the package imports nothing else: submodules and models load on
first use, so `KERAS_BACKEND` can still be chosen (for example by the
`keras-vae --backend` command) after `import keras_vae`.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("cli", "compression", "datasets", "diagnostics", "distributions", "evaluation", "layers", "likelihoods",
               "models", "networks", "objectives", "recipes", "training", "zoo")
_MODELS = ("CIWAE", "IWAE", "MIWAE", "PIWAE", "VAE")

__all__ = list(_MODELS + _SUBMODULES)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_vae.{name}")
    if name in _MODELS:
        return getattr(importlib.import_module("keras_vae.models"), name)
    raise AttributeError(f"module 'keras_vae' has no attribute {name!r}")


def __dir__():
    return sorted(__all__ + ["__version__"])
