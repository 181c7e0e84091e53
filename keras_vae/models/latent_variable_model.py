"""Shared base of VAE, IWAE and the importance-weighted family.

Everything a model reports comes from one function, `log_importance_weights`:
log_w[k, b] = log p(x_b | z_kb) + log p(z_kb) - log q(z_kb | x_b).
A subclass only says how the per-example bound and the loss follow from it,
in `compute_losses`; the per-backend `Trainer` mixin takes the gradients.
"""

import keras
import numpy as np
from keras import ops

from keras_vae import distributions, likelihoods
from keras_vae._checks import check_num_samples
from keras_vae.layers.gaussian_sampler import GaussianSampler
from keras_vae.models.hierarchy import StochasticLayers
from keras_vae.models.input_checks import InputChecks
from keras_vae.models.trainers import Trainer


class LatentVariableModel(InputChecks, StochasticLayers, Trainer, keras.Model):
    """A latent-variable model p(x, z) = p(x | z) N(z; 0, I) with an encoder q(z | x).

    Args:
        encoder: Layer or model mapping x to `(mean, log_var)` of q(z | x),
            each of shape `(batch, latent_dim)`.
        decoder: Layer or model mapping z of shape `(batch, latent_dim)` to the
            likelihood's parameters (see `keras_vae.likelihoods`). For several
            stochastic layers, pass lists of networks as `encoder` and
            `decoder` (see `keras_vae.models.hierarchy` and
            `keras_vae.networks.mlp_hierarchy`).
        likelihood: `"bernoulli"`, `"gaussian"`, `"discretized_logistic"`, or an
            object with `log_prob(x, params)` and `mean(params)`.
        num_samples: Number of importance samples K per example in training.
        seed: Optional integer seed of the sampler.
        **kwargs: Base `keras.Model` arguments (`name`, `dtype`).
    """

    bound_name = "bound"

    def __init__(self, encoder, decoder, likelihood="bernoulli", num_samples=1,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self._check_hierarchy()
        self.likelihood = likelihoods.get(likelihood)
        self.num_samples = check_num_samples(num_samples)
        self.seed = seed
        self.sampler = GaussianSampler(seed=seed, name="sampler")
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", self.bound_name, "log_px_z", "kl")
        }
        self.input_event_shape = None
        self.latent_shape = None
        self.latent_sizes = None

    @property
    def metrics(self):
        return list(self.trackers.values())

    # Building and checking inputs.

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self.input_event_shape = tuple(input_shape[1:])
        mean, _ = self.encode(keras.KerasTensor((None,) + self.input_event_shape))
        self.latent_shape = self._build_hierarchy(tuple(mean.shape[1:]))
        self.decoders[0](keras.KerasTensor((None,) + tuple(mean.shape[1:])))
        self.built = True

    # The generative model and the encoder.

    def encode(self, x, training=False):
        """Returns `(mean, log_var)` of q(z | x) (of q(z_1 | x) in a hierarchy).

        A NumPy `x` is checked first (shape, NaN, the likelihood's support).
        """
        if isinstance(x, np.ndarray):
            self.check_data(x, "x")
        return self._pair(self.encoders[0](x, training=training), "encoder")

    def _decode_params(self, z, training=False):
        # z: (K, batch, latent); the decoder sees (K * batch, latent).
        leading = ops.shape(z)[:2]
        flat = ops.reshape(z, (-1,) + tuple(z.shape[2:]))
        params = self.decoders[0](flat, training=training)

        def unflatten(p):
            return ops.reshape(p, tuple(leading) + tuple(p.shape[1:]))

        if isinstance(params, (tuple, list)):
            return type(params)(unflatten(p) for p in params)
        return unflatten(params)

    def decode(self, z):
        """Returns the mean of p(x | z) for z of shape `(batch, latent_dim)` (z_1 in a hierarchy)."""
        z = ops.convert_to_tensor(z, dtype=self.compute_dtype)
        return self.likelihood.mean(self._decode_params(z[None]))[0]

    def reconstruct(self, x, sample=False):
        """Mean of p(x | z) at the posterior mean (or a posterior sample); `x` checked first."""
        if isinstance(x, np.ndarray):
            self.check_data(x, "x")
        mean, log_var = self.encode(ops.convert_to_tensor(x))
        z = self.sampler(mean, log_var) if sample else mean
        return self.decode(z)

    def sample(self, num_samples, seed=None):
        """Draws z ~ p(z) and returns the mean of p(x | z) for each."""
        num_samples = check_num_samples(num_samples)
        if self.latent_shape is None:
            raise ValueError("The model must be built (fit it or call it once) before `sample`.")
        if isinstance(seed, int):
            seed = keras.random.SeedGenerator(seed)
        return self.decode(self._sample_prior(
            num_samples, self.sampler.seed_generator if seed is None else seed))

    def call(self, x, training=False):
        return self.reconstruct(x)

    # The one shared quantity.

    def log_importance_weights(self, x, num_samples, noise=None, training=False):
        """Log importance weights and their terms for K samples per example.

        Args:
            x: Data of shape `(batch, *event)`.
            num_samples: K.
            noise: Optional standard-normal noise `(K, batch, latent_dim)`
                (`latent_dim` of all stochastic layers together).
            training: Passed to the encoder and decoder.

        Returns:
            Dict with `log_w`, `log_px_z`, `log_pz`, `log_qz` of shape
            `(K, batch)`, and the posterior `mean`, `log_var` and samples `z`.
        """
        x = ops.cast(x, "float32")
        mean, log_var = self.encode(x, training=training)
        z, log_qz = self._sample_posterior(mean, log_var, num_samples, noise, training)
        log_px_z = self._log_px_z(x, self.split_latents(z)[0], training)
        log_pz = self.log_prior(z, training)
        mean, log_var = ops.cast(mean, "float32"), ops.cast(log_var, "float32")
        return {
            "log_w": log_px_z + log_pz - log_qz,
            "log_px_z": log_px_z,
            "log_pz": log_pz,
            "log_qz": log_qz,
            "mean": mean,
            "log_var": log_var,
            "z": z,
        }

    def _log_px_z(self, x, z, training=False):
        params = self._decode_params(z, training=training)
        params = tuple(ops.cast(p, "float32") for p in params) if isinstance(
            params, (tuple, list)) else ops.cast(params, "float32")
        return self.likelihood.log_prob(x, params)

    def stl_log_weights(self, terms):
        """log_w with log q evaluated at stopped encoder parameters (the path term only).

        Its gradient with respect to the encoder flows only through z: the
        "sticking the landing" estimator (Roeder et al. 2017, arXiv:1703.09194).
        """
        log_qz = self.log_q(terms["z"], terms["mean"], terms["log_var"], frozen=True)
        return terms["log_px_z"] + terms["log_pz"] - log_qz

    def decoder_log_weights(self, x, terms, training=False):
        """log_w as a function of the decoder alone: z and log q(z | x) stopped.

        Same value as `terms["log_w"]`; its gradient reaches only the decoder,
        which lets one surrogate give the decoder and the encoder different
        gradients (DReG, PIWAE) without a second backward pass per part.
        """
        z = ops.stop_gradient(terms["z"])
        if self.num_stochastic_layers == 1:
            log_px_z = self._log_px_z(ops.cast(x, "float32"), z, training)
            return log_px_z + ops.stop_gradient(terms["log_pz"] - terms["log_qz"])
        # The priors p(z_i | z_(i+1)) belong to the decoder too.
        return self.log_joint(ops.cast(x, "float32"), z, training) - ops.stop_gradient(
            terms["log_qz"])

    @property
    def samples_per_step(self):
        """Samples drawn per example in a training step (M * K for grouped bounds)."""
        return self.num_samples

    def surrogate(self, x, terms, training=False):
        """Per-example objective whose gradient is the estimator's; defaults to the bound."""
        return self.bound(terms)

    def analytic_kl(self, mean, log_var):
        """KL(q(z | x) || p(z)) per example, in closed form (one stochastic layer)."""
        axes = tuple(range(1, len(mean.shape)))
        return ops.sum(distributions.kl_standard_normal(mean, log_var), axis=axes)

    def bound(self, terms):
        """Per-example bound from the output of `log_importance_weights`."""
        raise NotImplementedError

    def compute_losses(self, x, training=False, noise=None):
        """Scalar losses and reported quantities for one batch (backend-free).

        Returns a dict with `"loss"` (minimized), the model's true bound,
        `"log_px_z"` and `"kl"` (analytic with one stochastic layer, the
        Monte Carlo mean of log q - log p over the samples in a hierarchy),
        each a batch mean.
        """
        terms = self.log_importance_weights(x, self.samples_per_step, noise=noise,
                                            training=training)
        bound = ops.mean(self.bound(terms))
        surrogate = ops.mean(self.surrogate(x, terms, training))
        # Gradient of the surrogate, value of the true bound.
        loss = -(surrogate + ops.stop_gradient(bound - surrogate))
        if self.losses:
            loss = loss + ops.sum(ops.stack([ops.cast(l, "float32") for l in self.losses]))
        return {
            "loss": loss,
            self.bound_name: bound,
            "log_px_z": ops.mean(terms["log_px_z"]),
            "kl": ops.mean(self.analytic_kl(terms["mean"], terms["log_var"])
                           if self.num_stochastic_layers == 1
                           else terms["log_qz"] - terms["log_pz"]),
        }

    def log_likelihood(self, x, num_samples=5000, batch_size=None, chunk_size=None,
                       noise=None, return_ess=False, verbose="auto", method="is",
                       num_chains=16, num_steps=500):
        """Importance-sampled estimate of log p(x) per example, in nats.

        log p(x) ~= L_K = log (1/K) sum_k w_k with z_k ~ q(z | x), which
        approaches log p(x) from below as K grows. Samples are drawn in
        chunks and combined with a streaming logsumexp, so memory does not
        grow with K.

        Args:
            x: Array of shape `(n, *event)`, or a dataset / iterable of batches.
            num_samples: K. Defaults to 5000, as in the IWAE paper.
            batch_size: Examples per batch for arrays. Defaults to 100.
            chunk_size: Samples per chunk. Defaults to about 50k (sample,
                example) pairs per chunk.
            noise: Optional standard-normal noise `(K, n, latent_dim)` for an
                array `x` (common random numbers; deterministic tests).
            return_ess: Also return the effective sample size per example.
            verbose: Progress bar (`"auto"`, 0 or 1).
            method: `"is"` (importance sampling from q, above) or `"ais"`
                (annealed importance sampling with HMC: `num_chains` chains of
                `num_steps` temperatures each; see `keras_vae.ais`).

        Returns:
            NumPy array of shape `(n,)` (and the ESS array with `return_ess`).
        """
        if method == "ais":
            from keras_vae import ais

            return ais.log_likelihood(self, x, num_chains=num_chains, num_steps=num_steps,
                                      batch_size=batch_size or 100, verbose=verbose)
        if method != "is":
            raise ValueError(f"Expected `method` in ('is', 'ais'). Received: method={method!r}")
        from keras_vae import evaluation

        return evaluation.log_likelihood(
            self, x, num_samples=num_samples, batch_size=batch_size,
            chunk_size=chunk_size, noise=noise, return_ess=return_ess, verbose=verbose,
        )

    # Serialization.

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "likelihood": likelihoods.serialize(self.likelihood),
            "num_samples": self.num_samples,
            "seed": self.seed,
        }
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        config["likelihood"] = likelihoods.get(config["likelihood"])
        return cls(**config)
