"""Bits-back compression: exact round trips, rate against -ELBO, refused streams and inputs."""

import numpy as np
import pytest

from keras_vae import IWAE, VAE, compression, networks, recipes, training, zoo
from keras_vae.compression import stream

from conftest import tiny_networks

LN2 = np.log(2.0)


def _trained(encoder, decoder, x, likelihood="bernoulli", model_cls=VAE, steps=30):
    import keras

    model = model_cls(encoder, decoder, likelihood=likelihood, num_samples=2, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, batch_size=16, epochs=max(1, steps * 16 // len(x)), verbose=0)
    return model


@pytest.fixture(scope="module")
def bernoulli_model():
    rng = np.random.default_rng(0)
    probs = rng.random((1, 12)) * 0.8 + 0.1
    x = (rng.random((96, 12)) < probs).astype("float32")
    return _trained(*tiny_networks(), x), x


def _payload_bits(data):
    header, words = stream.unpack(data)
    return 32 * (len(words) - header["coder"]["clean_words"])


def _neg_elbo_bits(model, x, draws=200):
    terms = model.log_importance_weights(x.astype("float32"), draws)
    import keras

    return -float(np.sum(np.mean(keras.ops.convert_to_numpy(terms["log_w"]), axis=0))) / LN2


@pytest.mark.parametrize("dtype", ["float32", "uint8", "bool", "int64"])
def test_bernoulli_round_trip_keeps_values_dtype_and_shape(bernoulli_model, dtype):
    model, x = bernoulli_model
    x = x.astype(dtype)
    data = compression.compress(model, x, batch_size=7)
    y = compression.decompress(model, data)
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(y, x)


def test_single_image_and_empty_array(bernoulli_model):
    model, x = bernoulli_model
    one = x[:1].astype("uint8")
    data = compression.compress(model, one)
    np.testing.assert_array_equal(compression.decompress(model, data), one)
    assert compression.read_header(data)["coder"]["clean_words"] > 0
    empty = x[:0].astype("uint8")
    out = compression.decompress(model, compression.compress(model, empty))
    assert out.shape == (0, 12) and out.dtype == np.uint8


def test_discretized_logistic_round_trip():
    rng = np.random.default_rng(1)
    levels = rng.integers(0, 256, (1, 10))
    x = np.clip(levels + rng.integers(-20, 21, (80, 10)), 0, 255).astype("uint8")
    encoder, decoder = tiny_networks(10, 3, likelihood="discretized_logistic")
    model = _trained(encoder, decoder, x.astype("float32"), "discretized_logistic")
    data = compression.compress(model, x, batch_size=16)
    np.testing.assert_array_equal(compression.decompress(model, data), x)
    # Nearly every symbol of an 8-bit pixel costs bits: the payload is far above zero.
    assert _payload_bits(data) > 0


def test_two_stochastic_layers_round_trip(binary_data):
    encoder, decoder = networks.mlp_hierarchy((12,), (4, 2), hidden_units=((8,), (6,)))
    model = _trained(encoder, decoder, binary_data, model_cls=IWAE)
    data = compression.compress(model, binary_data, batch_size=9)
    np.testing.assert_array_equal(compression.decompress(model, data), binary_data)


@pytest.fixture(scope="module")
def zoo_entry():
    model = zoo.load("binarized_mnist_iwae")
    recipe = recipes.Recipe.from_metadata(zoo.read_metadata("binarized_mnist_iwae")["recipe"])
    return model, training.load_test(recipe)[:100].astype("uint8")


def test_zoo_entry_round_trip_at_the_rate_of_its_elbo(zoo_entry):
    model, x = zoo_entry
    data = compression.compress(model, x)
    np.testing.assert_array_equal(compression.decompress(model, data), x)
    clean = compression.clean_bits(data)
    total = 32 * len(stream.unpack(data)[1])
    target = _neg_elbo_bits(model, x)
    # The rate is a one-sample estimate of -ELBO per image: within 2 % on 100 images.
    assert abs(total - clean - target) < 0.02 * target, (total, clean, target)


def test_corrupted_and_foreign_streams_are_refused(bernoulli_model):
    model, x = bernoulli_model
    data = compression.compress(model, x.astype("uint8"))
    with pytest.raises(stream.StreamError, match="truncated"):
        compression.decompress(model, data[:-40])
    with pytest.raises(stream.StreamError, match="truncated"):
        compression.decompress(model, data[:20])
    for position in (7, 12, len(data) // 2, len(data) - 60, len(data) - 1):
        flipped = bytearray(data)
        flipped[position] ^= 0x10
        with pytest.raises(stream.StreamError, match="corrupted|newer|magic"):
            compression.decompress(model, bytes(flipped))
    with pytest.raises(stream.StreamError, match="magic"):
        compression.decompress(model, b"PK" + data[2:])
    newer = bytearray(data)
    newer[len(stream.MAGIC)] = stream.VERSION + 1
    with pytest.raises(stream.StreamError, match="newer"):
        compression.decompress(model, bytes(newer))
    with pytest.raises(TypeError, match="data"):
        compression.decompress(model, "not bytes")
    other = _trained(*tiny_networks(), x, steps=5)
    with pytest.raises(stream.StreamError, match="written with model"):
        compression.decompress(other, data)


def test_a_stream_from_another_backend_is_refused_or_verified(bernoulli_model):
    import keras

    model, x = bernoulli_model
    data = compression.compress(model, x.astype("uint8"))
    header, words = stream.unpack(data)
    here = keras.backend.backend()
    elsewhere = "torch" if here != "torch" else "jax"
    moved = stream.pack({**header, "backend": elsewhere}, words)
    with pytest.raises(stream.StreamError, match=f"written on the '{elsewhere}' backend"):
        compression.decompress(model, moved)
    # Allowed explicitly, the data's sha256 decides (here the networks agree).
    np.testing.assert_array_equal(
        compression.decompress(model, moved, allow_other_backend=True), x.astype("uint8"))
    incomplete = stream.pack({k: v for k, v in header.items() if k != "shape"}, words)
    with pytest.raises(stream.StreamError, match="lacks a valid 'shape'"):
        compression.decompress(model, incomplete)
    wrong = stream.pack({**header, "data_sha256": "0" * 64}, words)
    with pytest.raises(stream.StreamError, match="does not match the stream's sha256"):
        compression.decompress(model, wrong)


@pytest.mark.parametrize("bad, match", [
    (np.full((3, 12), 0.5, "float32"), "binary pixels"),
    (np.full((3, 12), 2.0, "float32"), r"\[0, 1\]"),
    (np.full((3, 12), np.nan, "float32"), "NaN"),
    (np.zeros((3, 11), "float32"), "shape"),
    ([[0, 1] * 6], "NumPy array"),
])
def test_inputs_the_model_cannot_code_are_refused(bernoulli_model, bad, match):
    model, _ = bernoulli_model
    with pytest.raises((ValueError, TypeError), match=match):
        compression.compress(model, bad)


def test_coder_arguments_are_checked(bernoulli_model):
    model, x = bernoulli_model
    with pytest.raises(ValueError, match="precision"):
        compression.compress(model, x, precision=20)
    with pytest.raises(ValueError, match="batch_size"):
        compression.compress(model, x, batch_size=0)
    with pytest.raises(ValueError, match="seed"):
        compression.compress(model, x, seed=-1)
    gaussian = VAE(*tiny_networks(), likelihood="gaussian")
    gaussian.build((None, 12))
    with pytest.raises(ValueError, match="discrete likelihood"):
        compression.compress(gaussian, x)


def test_buckets_have_equal_prior_mass_and_gaussian_tables_match_scipy():
    from scipy import stats

    from keras_vae.compression.bits_back import Buckets

    b = Buckets(8)
    prior = b.probabilities(np.zeros(1), np.zeros(1))[0]
    np.testing.assert_allclose(prior, np.full(256, 1 / 256), rtol=1e-9)
    np.testing.assert_allclose(stats.norm.cdf(b.centres), (np.arange(256) + 0.5) / 256, rtol=1e-6)
    table = b.probabilities(np.array([0.7]), np.array([np.log(0.3**2)]))[0]
    edges = np.concatenate([[-np.inf], b.edges, [np.inf]])
    want = np.diff(stats.norm(0.7, 0.3).cdf(edges))
    np.testing.assert_allclose(table, want, atol=1e-12)


def test_discretized_logistic_table_matches_the_likelihood():
    import keras

    from keras_vae.compression.bits_back import data_model

    encoder, decoder = tiny_networks(10, 3, likelihood="discretized_logistic")
    model = VAE(encoder, decoder, likelihood="discretized_logistic")
    model.build((None, 10))
    z = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    _, table = data_model(model, z)
    np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=1e-9)
    values = np.arange(256, dtype="float32")
    params = model.decoders[0](z)
    for v in (0, 1, 128, 254, 255):
        x = np.full((4, 10), v, "float32")
        lp = keras.ops.convert_to_numpy(model.likelihood.log_prob(
            x, tuple(p[None] for p in params)))[0]
        np.testing.assert_allclose(np.log(table[:, v].reshape(4, 10)).sum(axis=1), lp,
                                   rtol=1e-4, atol=1e-3)
    assert values.size == table.shape[1]


def test_streams_of_the_other_backends_are_refused_or_decoded_exactly():
    """Each backend's run leaves a stream; the later runs read the earlier ones'."""
    import os
    import pathlib

    import keras

    from test_cross_backend import fixed_inputs, fixed_model

    model = fixed_model(VAE, "bernoulli")
    rng = np.random.default_rng(3)
    x = (rng.random((40, 12)) < 0.4).astype("uint8")
    directory = pathlib.Path(os.environ.get(
        "KERAS_VAE_CROSS_BACKEND_DIR", pathlib.Path(__file__).parents[1] / ".cross_backend"))
    directory.mkdir(parents=True, exist_ok=True)
    here = keras.backend.backend()
    (directory / f"compression.{here}.kvae").write_bytes(compression.compress(model, x))
    assert fixed_inputs("bernoulli")  # the same fixed weights on every backend
    for path in directory.glob("compression.*.kvae"):
        data = path.read_bytes()
        if path.stem.endswith(here):
            continue
        # Same weights on every backend: the stream is refused for its backend, not its model.
        with pytest.raises(stream.StreamError, match="written on the"):
            compression.decompress(model, data)
        try:
            y = compression.decompress(model, data, allow_other_backend=True)
        except stream.StreamError as e:
            assert "sha256" in str(e)
        else:
            np.testing.assert_array_equal(y, x)
