"""Lossless compression with a trained model: bits-back coding with ANS.

`compress(model, x)` turns images into bytes at a rate close to the model's
negative ELBO (Townsend, Bird and Barber, "Practical Lossless Compression with
Latent Variables using Bits Back Coding", ICLR 2019, arXiv:1901.04866);
`decompress(model, data)` gives them back exactly. Models with the Bernoulli
likelihood (binary pixels) and the discretized logistic (8-bit pixels), with
one or more stochastic layers, can code. The entropy coder is `constriction`'s
ANS coder.

The stream (see `keras_vae.compression.stream`) records the model's name and
a sha256 of its weights, the backend, the data's shape, dtype and sha256, and
the coder's parameters; `decompress` refuses a stream for another model, a
corrupted or truncated one, and one from a newer format, and checks that the
decoded data has the recorded sha256, so it never returns wrong data.

Example:

>>> from keras_vae import compression, zoo, training, recipes
>>> model = zoo.load("binarized_mnist_iwae")
>>> x = ...  # (n, 784) array of 0/1 pixels
>>> data = compression.compress(model, x)
>>> (compression.decompress(model, data) == x).all()
"""

import hashlib

import keras
import numpy as np

from keras_vae._checks import check_positive, check_positive_int
from keras_vae.compression.bits_back import BitsBackCoder
from keras_vae.compression.stream import StreamError, pack, unpack

__all__ = ["compress", "decompress", "read_header", "rate", "clean_bits", "weights_sha256",
           "StreamError"]

_LIKELIHOODS = ("bernoulli", "discretized_logistic")
LOWER_SCALE = 3.0


def weights_sha256(model):
    """sha256 of the encoder and decoder weights (the sampler's seed state left out)."""
    digest = hashlib.sha256()
    for net in model.encoders + model.decoders:
        for v in net.weights:
            value = np.ascontiguousarray(keras.ops.convert_to_numpy(v), dtype=np.float32)
            digest.update(str(value.shape).encode())
            digest.update(value.tobytes())
    return digest.hexdigest()


def _check_model(model):
    if not getattr(model, "built", False) or model.input_event_shape is None:
        raise ValueError("The model must be built (trained, loaded from the zoo, or called "
                         "once) before it can compress.")
    name = getattr(model.likelihood, "name", None)
    if name not in _LIKELIHOODS:
        raise ValueError(f"Bits-back coding needs a discrete likelihood, one of {_LIKELIHOODS}. "
                         f"The model's likelihood is {model.likelihood!r}.")


def _check_images(model, x):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"Expected `x` to be a NumPy array. Received: {type(x).__name__}")
    event = tuple(model.input_event_shape)
    if x.shape[1:] != event:
        raise ValueError(f"Expected `x` of shape (n, {', '.join(map(str, event))}) for this model. "
                         f"Received: x.shape={x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"Expected `x` with a numeric dtype. Received: x.dtype={x.dtype}")
    model.likelihood.check_data(x.astype(np.float64), "x")
    if model.likelihood.name == "bernoulli" and x.size and not np.isin(x, (0, 1)).all():
        raise ValueError("Bits-back coding with the Bernoulli likelihood codes binary pixels: "
                         "expected `x` in {0, 1}. Received values strictly between 0 and 1; "
                         "binarize first (keras_vae.datasets.binarize).")


def _batches(n, batch_size, warmup):
    """`(start, stop)` of each batch: the warm-up sizes, then `batch_size` to the end."""
    bounds, start = [], 0
    for size in list(warmup) + [batch_size] * n:
        if start >= n:
            break
        bounds.append((start, min(start + size, n)))
        start += size
    return bounds


def _next_size(coder, coder_impl, batch_size, left):
    # A batch's latents are popped before its images are pushed, so the stack
    # must already hold their bits: batches grow with the stack (the first
    # image starts from the clean words alone). Running short would cost rate
    # only, never correctness: constriction decodes from an exhausted stack
    # deterministically and invertibly.
    room = coder.num_valid_bits() // coder_impl.max_latent_bits()
    return max(1, min(batch_size, room, left))


def _clean_words(seed, count):
    words = np.random.default_rng(seed).integers(0, 2**32, count, dtype=np.uint64)
    words = words.astype(np.uint32)
    words[-1] |= 1  # an ANS stream never ends in a zero word
    return words


def compress(model, x, seed=0, precision=12, batch_size=32, lower_scale=LOWER_SCALE, verbose=0):
    """Codes `x` losslessly with bits-back ANS; returns the stream as bytes.

    Args:
        model: A built model with the Bernoulli or discretized logistic
            likelihood (e.g. from `keras_vae.zoo.load`).
        x: NumPy array `(n, *event)` in the likelihood's support: {0, 1} for
            Bernoulli, integers 0..255 for the discretized logistic. Its dtype
            and shape come back from `decompress`.
        seed: Seed of the clean bits the first image's latents are taken from.
        precision: Each latent is discretized into 2^precision buckets of
            equal prior mass (8 to 16; 12 costs well under 0.1 % of the rate).
        batch_size: Images per network call (the same on decoding).
        lower_scale: With several stochastic layers, the buckets of the lower
            latents have equal N(0, lower_scale^2) mass (the top latent's are
            those of its N(0, 1) prior): lower latents often lie far out.
        verbose: 1 for a progress bar.

    Returns:
        bytes. `len(result) * 8 / x.size` is the achieved bits per dimension.
    """
    import constriction

    _check_model(model)
    _check_images(model, x)
    precision = check_positive_int(precision, "precision")
    if not 8 <= precision <= 16:
        raise ValueError(f"Expected `precision` in [8, 16]. Received: precision={precision}")
    batch_size = check_positive_int(batch_size, "batch_size")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Expected `seed` to be a non-negative integer. Received: seed={seed!r}")
    lower_scale = check_positive(lower_scale, "lower_scale")
    coder_impl = BitsBackCoder(model, precision, lower_scale)
    n = len(x)
    clean = coder_impl.clean_words() if n else 0
    coder = constriction.stream.stack.AnsCoder(_clean_words(seed, clean)) if n \
        else constriction.stream.stack.AnsCoder()
    symbols = x.astype(np.int32)
    inputs = x.astype(np.float32)
    bar = keras.utils.Progbar(n, unit_name="image") if verbose and n else None
    warmup, start = [], 0
    while start < n:
        warm = bool(warmup) and warmup[-1] == batch_size
        size = batch_size if warm else _next_size(coder, coder_impl, batch_size, n - start)
        if not warm:
            warmup.append(size)
        coder_impl.encode(coder, inputs[start:start + size], symbols[start:start + size])
        start += size
        if bar:
            bar.update(min(start, n))
    header = {
        "model": model.name, "weights_sha256": weights_sha256(model),
        "backend": keras.backend.backend(), "likelihood": model.likelihood.name,
        "shape": list(x.shape), "dtype": x.dtype.str,
        "data_sha256": hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest(),
        "coder": {"method": "bits-back ANS", "library": f"constriction {_version()}",
                  "latent_precision": precision, "batch_size": batch_size,
                  "warmup_batches": warmup, "clean_words": clean, "seed": int(seed),
                  "lower_scale": float(lower_scale)},
    }
    return pack(header, coder.get_compressed() if n else [])


def _version():
    from importlib import metadata

    return metadata.version("constriction")


def read_header(data):
    """The header of a stream (after checking its checksum), as a dict."""
    return unpack(data)[0]


def decompress(model, data, allow_other_backend=False, verbose=0):
    """The array `compress(model, x)` was given, exactly (same values, dtype and shape).

    Args:
        model: The model that wrote the stream (checked by name and weights).
        data: bytes from `compress`.
        allow_other_backend: A stream is decoded on the backend that wrote it;
            with True another backend is tried, and the data's sha256 decides
            (networks can round differently on another backend, and then the
            decoding fails with a `StreamError` instead of returning data).
        verbose: 1 for a progress bar.

    Raises:
        StreamError: the stream is corrupted, truncated, from a newer format,
            or for another model or backend.
    """
    import constriction

    header, words = unpack(data)
    _check_header(header)
    _check_model(model)
    fingerprint = weights_sha256(model)
    if header["weights_sha256"] != fingerprint:
        raise StreamError(f"The stream was written with model {header['model']!r} (weights "
                          f"sha256 {header['weights_sha256'][:16]}...), not with this model "
                          f"{model.name!r} ({fingerprint[:16]}...).")
    backend = keras.backend.backend()
    if header["backend"] != backend and not allow_other_backend:
        raise StreamError(f"The stream was written on the {header['backend']!r} backend and this "
                          f"is {backend!r}: networks round differently across backends, so a "
                          "stream is decoded where it was written (allow_other_backend=True tries "
                          "anyway and checks the result).")
    shape, dtype, coding = tuple(header["shape"]), np.dtype(header["dtype"]), header["coder"]
    if shape[1:] != tuple(model.input_event_shape):
        raise StreamError(f"The stream holds items of shape {shape[1:]}; the model codes "
                          f"{tuple(model.input_event_shape)}.")
    n = shape[0]
    out = np.zeros(shape, dtype=np.int32)
    if n:
        coder_impl = BitsBackCoder(model, coding["latent_precision"], coding["lower_scale"])
        coder = constriction.stream.stack.AnsCoder(words)
        bar = keras.utils.Progbar(n, unit_name="image") if verbose else None
        for i, (start, stop) in enumerate(reversed(_batches(
                n, coding["batch_size"], coding["warmup_batches"]))):
            out[start:stop] = coder_impl.decode(coder, stop - start, shape[1:])
            if bar:
                bar.update(n - start)
        left = coder.get_compressed()
        clean = _clean_words(coding["seed"], coding["clean_words"])
        if not np.array_equal(left, clean):
            raise StreamError(_mismatch(header, backend))
    x = out.astype(dtype)
    if hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest() != header["data_sha256"]:
        raise StreamError(_mismatch(header, backend))
    return x


_HEADER = {"model": str, "weights_sha256": str, "backend": str, "shape": list, "dtype": str,
           "data_sha256": str, "coder": dict}
_CODER = {"latent_precision": int, "batch_size": int, "warmup_batches": list,
          "clean_words": int, "seed": int, "lower_scale": float}


def _check_header(header):
    """A header with every field the decoder reads, of the right type (else a StreamError)."""
    for fields, where in ((_HEADER, header), (_CODER, header.get("coder", {}))):
        if not isinstance(where, dict):
            raise StreamError("The stream's header is not a JSON object.")
        for key, kind in fields.items():
            if not isinstance(where.get(key), kind):
                raise StreamError(f"The stream's header lacks a valid {key!r} field "
                                  f"(expected {kind.__name__}).")


def _mismatch(header, backend):
    return ("The decoded data does not match the stream's sha256: the networks evaluated "
            "differently than when the stream was written (written on "
            f"{header['backend']!r}, decoded on {backend!r}). Decode on the backend and "
            "device that wrote it.")


def rate(data, x):
    """Bits per dimension of a stream for the array it codes (header and checksum included)."""
    return len(data) * 8 / max(np.asarray(x).size, 1)


def clean_bits(data):
    """Bits of the stream taken by the clean words the first image started from."""
    return read_header(data)["coder"]["clean_words"] * 32
