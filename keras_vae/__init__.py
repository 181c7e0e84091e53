"""keras_vae: VAE and IWAE density models for Keras 3 (TensorFlow, JAX, PyTorch)."""

from keras_vae import distributions, evaluation, layers, likelihoods, models, networks, objectives
from keras_vae.models import IWAE, VAE

__version__ = "0.1.0"

__all__ = [
    "IWAE",
    "VAE",
    "distributions",
    "evaluation",
    "layers",
    "likelihoods",
    "models",
    "networks",
    "objectives",
]
