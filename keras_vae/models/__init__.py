"""Latent-variable models with per-backend training steps."""

from keras_vae.models.iwae import IWAE
from keras_vae.models.latent_variable_model import LatentVariableModel
from keras_vae.models.vae import VAE

__all__ = ["IWAE", "LatentVariableModel", "VAE"]
