"""Bits-back coding with ANS (Townsend, Bird and Barber 2019), one batch at a time.

Per batch of images, encoding runs
    pop z_1 ~ Q(z_1 | x), ..., pop z_L ~ Q(z_L | z_(L-1))      (bits back)
    push x ~ P(x | z_1), push z_i ~ P(z_i | z_(i+1)), push z_L ~ uniform
and decoding runs the exact reverse. Every latent is discretized into
2^precision buckets of equal mass under N(0, 1): the top prior is then
uniform over buckets, and a Gaussian q or conditional p becomes a
categorical over them. Each bucket stands for its median. All networks run on
the same batches in both directions, so both sides see the same floats; the
probability tables are computed in float64 NumPy and quantized by
`constriction`, whose ANS coder does the entropy coding.
"""

import math

import keras
import numpy as np
from scipy import special

# constriction's categorical models use 24-bit probabilities: one symbol
# costs at most 24 bits, which bounds the clean bits the first pop needs.
_MAX_SYMBOL_BITS = 24


def _constriction():
    import constriction

    return constriction.stream


class Buckets:
    """2^precision intervals of equal N(0, scale^2) mass, each represented by its median."""

    def __init__(self, precision, scale=1.0):
        n = 2**precision
        self.size = n
        self.edges = scale * special.ndtri(np.arange(1, n) / n)
        self.centres = (scale * special.ndtri((np.arange(n) + 0.5) / n)).astype(np.float32)

    def probabilities(self, mean, log_var):
        """Mass of N(mean, exp(log_var)) in each bucket: `(mean.size, 2^precision)`."""
        mean = np.asarray(mean, np.float64).reshape(-1, 1)
        std = np.exp(0.5 * np.asarray(log_var, np.float64)).reshape(-1, 1)
        cdf = special.ndtr((self.edges[None, :] - mean) / std)
        return np.diff(cdf, axis=1, prepend=0.0, append=1.0)


def _numpy(t):
    return keras.ops.convert_to_numpy(t)


def _pair(model, network, inputs):
    mean, log_var = model._pair(network(inputs, training=False), "network")
    return _numpy(mean), _numpy(log_var)


def data_model(model, z1):
    """(constriction model family, parameter array) of p(x | z_1) for a batch of z_1."""
    stream = _constriction()
    params = model.decoders[0](z1, training=False)
    if model.likelihood.name == "bernoulli":
        logits = _numpy(params).astype(np.float64).reshape(-1)
        return stream.model.Bernoulli(perfect=False), special.expit(logits)
    mean, log_scale = (_numpy(p).astype(np.float64).reshape(-1, 1)
                       for p in model.likelihood._split(params))
    bins = model.likelihood.num_bins
    # Bin edges of pixel values on the [-1, 1] scale, as in
    # distributions.discretized_logistic_log_prob: the edge bins take the tails.
    edges = -1.0 + (2.0 * np.arange(1, bins) - 1.0) / (bins - 1)
    cdf = special.expit((edges[None, :] - mean) * np.exp(-log_scale))
    return stream.model.Categorical(perfect=False), np.diff(cdf, axis=1, prepend=0.0, append=1.0)


class BitsBackCoder:
    """Pushes and pops batches of a built model's data on an ANS stack."""

    def __init__(self, model, precision, lower_scale=1.0):
        self.model = model
        # The top latent's buckets have equal prior mass, so its prior is uniform over them.
        # A lower latent's prior p(z_i | z_(i+1)) is coded as a categorical over its own
        # buckets whatever their grid: a wider grid (`lower_scale`) keeps posteriors whose
        # means lie far out (|z_1| > 3 is common in a hierarchy) off the open-ended edge buckets.
        layers = model.num_stochastic_layers
        self.buckets = [Buckets(precision, lower_scale if i < layers - 1 else 1.0)
                        for i in range(layers)]
        self.stream = _constriction()
        self.categorical = self.stream.model.Categorical(perfect=False)
        self.uniform = self.stream.model.Uniform(2**precision)

    def max_latent_bits(self):
        """Most bits one image's latent pops can take off the stack."""
        return sum(int(np.prod(s)) for s in self._latent_shapes()) * _MAX_SYMBOL_BITS

    def clean_words(self):
        """32-bit words on the empty stack, enough for the first image's latent pops."""
        return math.ceil(self.max_latent_bits() / 32) + 2

    def _latent_shapes(self):
        sizes = self.model.latent_sizes or (self.model.latent_shape,)
        return [s if isinstance(s, tuple) else (s,) for s in sizes]

    def _pop_latent(self, coder, layer, mean, log_var):
        idx = coder.decode(self.categorical, self.buckets[layer].probabilities(mean, log_var))
        return idx.reshape(mean.shape)

    def _push_latent(self, coder, layer, idx, mean, log_var):
        coder.encode_reverse(idx.reshape(-1).astype(np.int32), self.categorical,
                             self.buckets[layer].probabilities(mean, log_var))

    def _centres(self, indices):
        return [self.buckets[i].centres[idx] for i, idx in enumerate(indices)]

    def encode(self, coder, x, symbols):
        """Codes one batch: `x` the float32 model input, `symbols` the same data as int32."""
        below, indices = x, []
        for layer, net in enumerate(self.model.encoders):
            mean, log_var = _pair(self.model, net, below)
            indices.append(self._pop_latent(coder, layer, mean, log_var))
            below = self.buckets[layer].centres[indices[-1]]
        z = self._centres(indices)
        family, params = data_model(self.model, z[0])
        coder.encode_reverse(symbols.reshape(-1), family, params)
        for i, net in enumerate(self.model.decoders[1:]):
            mean, log_var = _pair(self.model, net, z[i + 1])
            self._push_latent(coder, i, indices[i], mean, log_var)
        coder.encode_reverse(indices[-1].reshape(-1).astype(np.int32), self.uniform)

    def decode(self, coder, count, event_shape):
        """Inverse of `encode` for `count` items: returns their int32 symbols."""
        shapes = self._latent_shapes()
        top = coder.decode(self.uniform, count * int(np.prod(shapes[-1])))
        indices = [None] * len(shapes)
        indices[-1] = top.reshape((count,) + shapes[-1])
        for i in reversed(range(len(shapes) - 1)):
            mean, log_var = _pair(self.model, self.model.decoders[i + 1],
                                  self.buckets[i + 1].centres[indices[i + 1]])
            indices[i] = self._pop_latent(coder, i, mean, log_var)
        z = self._centres(indices)
        family, params = data_model(self.model, z[0])
        symbols = coder.decode(family, params).reshape((count,) + tuple(event_shape))
        below = [symbols.astype(np.float32)] + z[:-1]
        for i in reversed(range(len(shapes))):
            mean, log_var = _pair(self.model, self.model.encoders[i], below[i])
            self._push_latent(coder, i, indices[i], mean, log_var)
        return symbols
