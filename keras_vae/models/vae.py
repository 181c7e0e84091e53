import keras
from keras import ops

from keras_vae import objectives
from keras_vae.models.latent_variable_model import LatentVariableModel


@keras.saving.register_keras_serializable(package="keras_vae")
class VAE(LatentVariableModel):
    """Variational autoencoder trained on the evidence lower bound.

    ELBO = E_q[log p(x | z) + log p(z) - log q(z | x)], estimated with
    `num_samples` reparameterized samples (the mean of log_w), or with the KL
    term in closed form when `analytic_kl=True`.

    `encoder`, `decoder`, `likelihood`, `num_samples` and `seed` are those of
    `LatentVariableModel`.

    Args:
        analytic_kl: Use KL(q || p) in closed form instead of its Monte Carlo
            estimate. Defaults to False, so that the VAE is exactly the K=1 case
            of the shared log-weights (as in the IWAE paper's comparison).

    Example:

    >>> from keras_vae import networks
    >>> model = VAE(networks.mlp_encoder((784,), 50), networks.mlp_decoder(50, (784,)))
    >>> model.compile(optimizer="adam")

    Reference:
        Kingma and Welling, Auto-Encoding Variational Bayes, arXiv:1312.6114.
    """

    bound_name = "elbo"

    def __init__(self, encoder, decoder, likelihood="bernoulli", num_samples=1,
                 analytic_kl=False, seed=None, **kwargs):
        super().__init__(encoder, decoder, likelihood=likelihood,
                         num_samples=num_samples, seed=seed, **kwargs)
        self.analytic_kl_term = bool(analytic_kl)
        if self.analytic_kl_term and self.num_stochastic_layers > 1:
            raise ValueError("`analytic_kl=True` needs a single stochastic layer: the KL of a "
                             "hierarchy has no closed form. Received "
                             f"{self.num_stochastic_layers} stochastic layers.")

    def bound(self, terms):
        if self.analytic_kl_term:
            return ops.mean(terms["log_px_z"], axis=0) - self.analytic_kl(
                terms["mean"], terms["log_var"]
            )
        return objectives.elbo(terms["log_w"])

    def get_config(self):
        config = super().get_config()
        config["analytic_kl"] = self.analytic_kl_term
        return config
