import keras

from keras_vae import objectives
from keras_vae._checks import check_positive_int
from keras_vae.models.latent_variable_model import LatentVariableModel

GRADIENT_ESTIMATORS = ("iwae", "stl", "dreg")


@keras.saving.register_keras_serializable(package="keras_vae")
class IWAE(LatentVariableModel):
    """Importance weighted autoencoder trained on the bound L_K.

    L_K = E[log (1/K) sum_k p(x, z_k) / q(z_k | x)] with K samples per example;
    L_1 is the ELBO, and L_K increases to log p(x) as K grows.

    `encoder`, `decoder`, `likelihood` and `seed` are those of
    `LatentVariableModel`.

    Args:
        num_samples: K. Defaults to 5.
        gradient_estimator: Encoder gradient: `"iwae"` (the plain
            reparameterization gradient of L_K), `"stl"` (sticking the landing:
            the score term dropped; biased for K > 1) or `"dreg"` (doubly
            reparameterized, unbiased, lower variance). The decoder gradient and
            the reported bound are those of L_K in every case.

    Example:

    >>> from keras_vae import networks
    >>> model = IWAE(networks.mlp_encoder((784,), 50), networks.mlp_decoder(50, (784,)),
    ...              num_samples=50, gradient_estimator="dreg")
    >>> model.compile(optimizer="adam")

    Reference:
        Burda, Grosse and Salakhutdinov, Importance Weighted Autoencoders,
        arXiv:1509.00519. Tucker, Lawson, Gu and Maddison, Doubly
        Reparameterized Gradient Estimators for Monte Carlo Objectives,
        arXiv:1810.04152. Roeder, Wu and Duvenaud, Sticking the Landing,
        arXiv:1703.09194.
    """

    bound_name = "iwae_bound"
    num_groups = 1

    def __init__(self, encoder, decoder, likelihood="bernoulli", num_samples=5,
                 gradient_estimator="iwae", seed=None, **kwargs):
        super().__init__(encoder, decoder, likelihood=likelihood,
                         num_samples=num_samples, seed=seed, **kwargs)
        if gradient_estimator not in GRADIENT_ESTIMATORS:
            raise ValueError(f"Expected `gradient_estimator` in {GRADIENT_ESTIMATORS}. "
                             f"Received: gradient_estimator={gradient_estimator!r}")
        self.gradient_estimator = gradient_estimator

    @property
    def samples_per_step(self):
        return self.num_groups * self.num_samples

    def bound(self, terms):
        return objectives.miwae_bound(terms["log_w"], self.num_groups)

    def surrogate(self, x, terms, training=False):
        if self.gradient_estimator == "stl":
            return objectives.miwae_bound(self.stl_log_weights(terms), self.num_groups)
        if self.gradient_estimator == "dreg":
            return objectives.dreg_surrogate(terms["log_w"], self.stl_log_weights(terms),
                                             self.decoder_log_weights(x, terms, training),
                                             self.num_groups)
        return self.bound(terms)

    def get_config(self):
        config = super().get_config()
        config["gradient_estimator"] = self.gradient_estimator
        return config


@keras.saving.register_keras_serializable(package="keras_vae")
class MIWAE(IWAE):
    """Average of M independent L_K bounds, each from its own K samples.

    The other arguments are those of `IWAE` (including `gradient_estimator`).

    Args:
        num_groups: M. `num_samples` is K per group; each step draws M * K.

    Reference:
        Rainforth et al., Tighter Variational Bounds are Not Necessarily
        Better, arXiv:1802.04537.
    """

    bound_name = "miwae_bound"

    def __init__(self, encoder, decoder, num_groups=8, num_samples=8, **kwargs):
        super().__init__(encoder, decoder, num_samples=num_samples, **kwargs)
        self.num_groups = check_positive_int(num_groups, "num_groups")

    def get_config(self):
        config = super().get_config()
        config["num_groups"] = self.num_groups
        return config


@keras.saving.register_keras_serializable(package="keras_vae")
class CIWAE(IWAE):
    """beta * ELBO + (1 - beta) * L_K from the same K samples.

    Args:
        beta: Weight of the ELBO, in [0, 1]. Other arguments as `IWAE`
            (the plain gradient only).

    Reference:
        Rainforth et al., Tighter Variational Bounds are Not Necessarily
        Better, arXiv:1802.04537.
    """

    bound_name = "ciwae_bound"

    def __init__(self, encoder, decoder, beta=0.5, num_samples=8, **kwargs):
        super().__init__(encoder, decoder, num_samples=num_samples, **kwargs)
        if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not 0 <= beta <= 1:
            raise ValueError(f"Expected `beta` in [0, 1]. Received: beta={beta!r}")
        if self.gradient_estimator != "iwae":
            raise ValueError("CIWAE supports gradient_estimator='iwae' only.")
        self.beta = float(beta)

    def bound(self, terms):
        return objectives.ciwae_bound(terms["log_w"], self.beta)

    def get_config(self):
        config = super().get_config()
        config["beta"] = self.beta
        return config


@keras.saving.register_keras_serializable(package="keras_vae")
class PIWAE(MIWAE):
    """Decoder trained on L_{MK}, encoder on MIWAE(M, K), in one optimizer step.

    The two gradients come from one surrogate: L_{MK} evaluated with z and
    q stopped (a function of the decoder only), plus MIWAE minus its
    decoder-only twin (a function of the encoder only). Reports L_{MK}.

    Reference:
        Rainforth et al., Tighter Variational Bounds are Not Necessarily
        Better, arXiv:1802.04537.
    """

    bound_name = "iwae_bound"

    def __init__(self, encoder, decoder, num_groups=8, num_samples=8, **kwargs):
        super().__init__(encoder, decoder, num_groups=num_groups, num_samples=num_samples,
                         **kwargs)
        if self.gradient_estimator != "iwae":
            raise ValueError("PIWAE supports gradient_estimator='iwae' only.")

    def bound(self, terms):
        return objectives.iwae_bound(terms["log_w"])

    def surrogate(self, x, terms, training=False):
        return objectives.piwae_surrogate(terms["log_w"], self.decoder_log_weights(x, terms, training),
                                          self.num_groups)
