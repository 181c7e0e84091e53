"""Latent-variable models with per-backend training steps."""

from keras_vae.models.iwae import CIWAE, IWAE, MIWAE, PIWAE
from keras_vae.models.latent_variable_model import LatentVariableModel
from keras_vae.models.vae import VAE

__all__ = ["CIWAE", "IWAE", "LatentVariableModel", "MIWAE", "PIWAE", "VAE"]
