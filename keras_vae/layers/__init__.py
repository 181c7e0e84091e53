"""Keras layers for latent-variable models."""

from keras_vae.layers.gaussian_head import GaussianHead
from keras_vae.layers.gaussian_sampler import GaussianSampler
from keras_vae.layers.variance_floor import VarianceFloor, soft_bound_log_variance

__all__ = ["GaussianHead", "GaussianSampler", "VarianceFloor", "soft_bound_log_variance"]
