"""Stochastic layers: one, or a hierarchy of L Gaussian latents.

With L layers (Burda et al. 2015, section 5, use L = 2):

    q(z | x)    = q(z_1 | x) q(z_2 | z_1) ... q(z_L | z_(L-1))
    p(x, z)     = p(x | z_1) p(z_1 | z_2) ... p(z_(L-1) | z_L) N(z_L; 0, I)

`encoder` and `decoder` are then lists of L networks: `encoder[i]` gives the
`(mean, log_var)` of q(z_(i+1) | z_i) (of x for i = 0), `decoder[0]` the
likelihood's parameters of p(x | z_1) and `decoder[i]` the `(mean, log_var)`
of p(z_i | z_(i+1)). The latents travel as one tensor, `[z_1, ..., z_L]`
concatenated on the last axis, so everything built on the log-weights
(bounds, `noise=`, AIS over z) sees a single z whatever L is.
"""

import keras
from keras import ops

from keras_vae import distributions


def _as_list(networks):
    return list(networks) if isinstance(networks, (list, tuple)) else [networks]


def _gaussian(z, mean, log_var):
    axes = tuple(range(2, len(z.shape)))
    return ops.sum(distributions.gaussian_log_prob(z, mean, log_var), axis=axes)


def _frozen_call(network, inputs, training):
    # The network with its weights held constant but its input live: the
    # path-only term of STL/DReG for the layers above z_1.
    trainable = [ops.stop_gradient(v.value) for v in network.trainable_variables]
    non_trainable = [v.value for v in network.non_trainable_variables]
    outputs, _ = network.stateless_call(trainable, non_trainable, inputs, training=training)
    return outputs


class StochasticLayers:
    """Mixin of `LatentVariableModel`: sampling and log-densities of all layers."""

    @property
    def encoders(self):
        return _as_list(self.encoder)

    @property
    def decoders(self):
        return _as_list(self.decoder)

    @property
    def num_stochastic_layers(self):
        return len(self.encoders)

    def _check_hierarchy(self):
        if len(self.encoders) != len(self.decoders) or not self.encoders:
            raise ValueError(
                "Expected one encoder network and one decoder network per stochastic layer. "
                f"Received: {len(self.encoders)} encoder and {len(self.decoders)} decoder networks")

    def _build_hierarchy(self, first_shape):
        sizes = [first_shape]
        for net in self.encoders[1:]:
            if len(sizes[-1]) != 1:
                raise ValueError("Hierarchical latents must be flat vectors (batch, latent_dim). "
                                 f"Received a latent of shape (batch,) + {sizes[-1]}")
            mean, _ = self._pair(net(keras.KerasTensor((None,) + sizes[-1])), "encoder")
            sizes.append(tuple(mean.shape[1:]))
        for i, net in enumerate(self.decoders[1:]):
            mean, _ = self._pair(net(keras.KerasTensor((None,) + sizes[i + 1])), "decoder")
            if tuple(mean.shape[1:]) != sizes[i]:
                raise ValueError(
                    f"decoder[{i + 1}] must return the (mean, log_var) of z_{i + 1}, shape "
                    f"(batch,) + {sizes[i]}. It returned shape {tuple(mean.shape)}")
        self.latent_sizes = tuple(s[0] if len(s) == 1 else s for s in sizes)
        if len(sizes) == 1:
            return sizes[0]
        return (sum(s[0] for s in sizes),)

    @staticmethod
    def _pair(outputs, role):
        if (not isinstance(outputs, (tuple, list)) or len(outputs) != 2
                or tuple(outputs[0].shape) != tuple(outputs[1].shape) or len(outputs[0].shape) < 2):
            described = ([tuple(o.shape) for o in outputs] if isinstance(outputs, (tuple, list))
                         else tuple(outputs.shape))
            raise ValueError(
                f"The {role} must return a pair (mean, log_var) of tensors of the same shape "
                f"(batch, latent_dim). It returned: {described}")
        return outputs[0], outputs[1]

    def _apply(self, network, z, role, training=False, frozen=False):
        """A network on samples of shape (K, batch, d): seen as (K * batch, d)."""
        leading = ops.shape(z)[:2]
        flat = ops.reshape(z, (-1,) + tuple(z.shape[2:]))
        out = _frozen_call(network, flat, training) if frozen else network(flat, training=training)
        mean, log_var = self._pair(out, role)
        return tuple(ops.cast(ops.reshape(t, tuple(leading) + tuple(t.shape[1:])), "float32")
                     for t in (mean, log_var))

    def split_latents(self, z):
        """`[z_1, ..., z_L]` from the concatenated latent (last axis)."""
        if self.num_stochastic_layers == 1:
            return [z]
        parts, start = [], 0
        for size in self.latent_sizes:
            parts.append(z[..., start:start + size])
            start += size
        return parts

    def _sample_posterior(self, mean, log_var, num_samples, noise=None, training=False):
        """z ~ q(z | x) from the first layer's parameters: (z, log q(z | x))."""
        noises = [None] * self.num_stochastic_layers
        if noise is not None and self.num_stochastic_layers > 1:
            noise = ops.convert_to_tensor(noise)
            if noise.shape[-1] != sum(self.latent_sizes):
                raise ValueError(
                    f"Expected `noise` with last axis {sum(self.latent_sizes)} (the latents "
                    f"{self.latent_sizes} concatenated). Received: noise.shape={tuple(noise.shape)}")
            noises = self.split_latents(noise)
        elif noise is not None:
            noises = [noise]
        z = self.sampler(mean, log_var, num_samples=num_samples, noise=noises[0])
        parts = [z]
        for net, eps in zip(self.encoders[1:], noises[1:]):
            m, lv = self._apply(net, parts[-1], "encoder", training)
            parts.append(self.sampler(m, lv, noise=eps))
        # The log-weights are computed in float32 even under mixed precision.
        parts = [ops.cast(p, "float32") for p in parts]
        z = parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)
        return z, self.log_q(z, mean, log_var, training)

    def log_q(self, z, mean, log_var, training=False, frozen=False):
        """log q(z | x), shape (K, batch), from the first layer's `(mean, log_var)`.

        With `frozen=True` the encoder's parameters are held constant and only
        the path through z carries a gradient (sticking the landing).
        """
        mean, log_var = ops.cast(mean, "float32"), ops.cast(log_var, "float32")
        if frozen:
            mean, log_var = ops.stop_gradient(mean), ops.stop_gradient(log_var)
        parts = self.split_latents(z)
        total = _gaussian(parts[0], mean[None], log_var[None])
        for net, below, part in zip(self.encoders[1:], parts, parts[1:]):
            m, lv = self._apply(net, below, "encoder", training, frozen=frozen)
            total = total + _gaussian(part, m, lv)
        return total

    def log_prior(self, z, training=False):
        """log p(z) = log p(z_1 | z_2) ... + log N(z_L; 0, I), shape (K, batch)."""
        parts = self.split_latents(z)
        axes = tuple(range(2, len(parts[-1].shape)))
        total = ops.sum(distributions.standard_normal_log_prob(parts[-1]), axis=axes)
        for net, part, above in zip(self.decoders[1:], parts, parts[1:]):
            m, lv = self._apply(net, above, "decoder", training)
            total = total + _gaussian(part, m, lv)
        return total

    def log_joint(self, x, z, training=False):
        """log p(x, z) = log p(x | z_1) + log p(z), shape (K, batch)."""
        return self._log_px_z(x, self.split_latents(z)[0], training) + self.log_prior(z, training)

    def _sample_prior(self, num_samples, seed):
        """z_1 drawn ancestrally from p(z), shape (num_samples, latent_1)."""
        top = (self.latent_sizes[-1],) if self.num_stochastic_layers > 1 else self.latent_shape
        z = keras.random.normal((num_samples,) + tuple(top), dtype=self.compute_dtype, seed=seed)
        for net in reversed(self.decoders[1:]):
            m, lv = self._apply(net, z[None], "decoder")
            eps = keras.random.normal(ops.shape(m[0]), dtype=m.dtype, seed=seed)
            z = self.sampler(m[0], lv[0], noise=eps)
        return z
