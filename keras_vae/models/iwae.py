import keras

from keras_vae import objectives
from keras_vae.models.latent_variable_model import LatentVariableModel


@keras.saving.register_keras_serializable(package="keras_vae")
class IWAE(LatentVariableModel):
    """Importance weighted autoencoder trained on the bound L_K.

    L_K = E[log (1/K) sum_k p(x, z_k) / q(z_k | x)] with K samples per example;
    L_1 is the ELBO, and L_K increases to log p(x) as K grows.

    Args:
        encoder, decoder, likelihood, seed: See `LatentVariableModel`.
        num_samples: K. Defaults to 5.

    Example:

    >>> from keras_vae import networks
    >>> model = IWAE(networks.mlp_encoder((784,), 50), networks.mlp_decoder(50, (784,)),
    ...              num_samples=50)
    >>> model.compile(optimizer="adam")

    Reference:
        Burda, Grosse and Salakhutdinov, Importance Weighted Autoencoders,
        arXiv:1509.00519.
    """

    bound_name = "iwae_bound"

    def __init__(self, encoder, decoder, likelihood="bernoulli", num_samples=5,
                 seed=None, **kwargs):
        super().__init__(encoder, decoder, likelihood=likelihood,
                         num_samples=num_samples, seed=seed, **kwargs)

    def bound(self, terms):
        return objectives.iwae_bound(terms["log_w"])
