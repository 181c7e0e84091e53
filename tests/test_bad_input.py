"""Bad input fails early with a message naming the argument; nothing changes."""

import keras
import numpy as np
import pytest

from conftest import tiny_networks
from keras_vae import IWAE, VAE, likelihoods, networks
from keras_vae.layers import GaussianHead, VarianceFloor


def compiled(cls=IWAE, likelihood="bernoulli", **kwargs):
    encoder, decoder = tiny_networks(likelihood=likelihood)
    model = cls(encoder, decoder, likelihood=likelihood, seed=0, **kwargs)
    model.compile(optimizer="adam")
    model.build((None, 12))
    return model


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_data_is_rejected_before_training(binary_data, value):
    model = compiled()
    before = weights_of(model)
    x = binary_data.copy()
    x[37, 4] = value
    with pytest.raises(ValueError, match=r"`x` contains NaN or inf \(first at example index 37\)"):
        model.fit(x, epochs=1, verbose=0)
    for a, b in zip(before, weights_of(model)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="NaN or inf"):
        model.log_likelihood(x, num_samples=3, verbose=0)
    with pytest.raises(ValueError, match="validation_data"):
        model.fit(binary_data, validation_data=x, epochs=1, verbose=0)


def test_bernoulli_range(binary_data):
    model = compiled()
    with pytest.raises(ValueError, match=r"Bernoulli likelihood expects `x` in \[0, 1\]"):
        model.fit(binary_data * 255, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.evaluate(binary_data - 0.5, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.train_on_batch(binary_data * 2)


def test_discretized_logistic_needs_8_bit_integers():
    model = compiled(likelihood="discretized_logistic")
    pixels = np.random.default_rng(0).integers(0, 256, (8, 12)).astype("float32")
    model.train_on_batch(pixels)
    with pytest.raises(ValueError, match="integer pixel values in \\[0, 255\\]"):
        model.fit(pixels / 255.0, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="integer pixel values"):
        model.log_likelihood(pixels + 1.0, num_samples=2, verbose=0)


@pytest.mark.parametrize("shape", [(12,), (4, 13), (4, 3, 4)])
def test_wrong_rank_or_size(shape):
    model = compiled()
    with pytest.raises(ValueError, match=r"Expected `x` of shape \(batch,\) \+ \(12,\)"):
        model.fit(np.zeros(shape, "float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="Expected `x` of shape"):
        model.log_likelihood(np.zeros(shape, "float32"), num_samples=2, verbose=0)


def test_wrong_size_is_caught_from_the_encoder_before_building():
    encoder, decoder = tiny_networks()
    model = VAE(encoder, decoder)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"received|Received: x.shape=\(4, 10\)"):
        model.fit(np.zeros((4, 10), "float32"), verbose=0)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "5", None, True])
def test_bad_num_samples(bad, binary_data):
    encoder, decoder = tiny_networks()
    with pytest.raises(ValueError, match="num_samples"):
        IWAE(encoder, decoder, num_samples=bad)
    model = compiled()
    with pytest.raises(ValueError, match="num_samples"):
        model.log_likelihood(binary_data, num_samples=bad, verbose=0)


@pytest.mark.parametrize("bad", [0.0, -1e-3])
def test_bad_min_variance(bad):
    with pytest.raises(ValueError, match=r"Expected `min_variance` > 0"):
        VarianceFloor(bad)
    with pytest.raises(ValueError, match="min_variance"):
        GaussianHead(3, min_variance=bad)
    with pytest.raises(ValueError, match="min_variance"):
        likelihoods.Gaussian(min_variance=bad)
    with pytest.raises(ValueError, match="min_variance"):
        networks.mlp_encoder((4,), 2, min_variance=bad)


def test_encoder_must_return_mean_and_log_var_of_matching_shapes():
    _, decoder = tiny_networks()
    inputs = keras.Input((12,))
    single = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    mismatched = keras.Model(inputs, [keras.layers.Dense(3)(inputs), keras.layers.Dense(2)(inputs)])
    for encoder in (single, mismatched):
        model = VAE(encoder, decoder)
        with pytest.raises(ValueError, match=r"The encoder must return a pair \(mean, log_var\)"):
            model.build((None, 12))


def test_unknown_likelihood_lists_the_choices():
    encoder, decoder = tiny_networks()
    with pytest.raises(ValueError, match="Unknown likelihood 'poisson'.*bernoulli"):
        VAE(encoder, decoder, likelihood="poisson")
    with pytest.raises(ValueError, match="likelihood"):
        VAE(encoder, decoder, likelihood=42)


def test_noise_of_the_wrong_shape(binary_data):
    model = compiled()
    with pytest.raises(ValueError, match="noise"):
        model.log_likelihood(binary_data, num_samples=4, noise=np.zeros((4, 10, 3)), verbose=0)
    with pytest.raises(ValueError, match="noise"):
        model.log_likelihood(binary_data, num_samples=5, noise=np.zeros((4, 64, 3)), verbose=0)


def _batches_with_nan(binary_data, bad_batch=2, bad_row=3):
    batches = [binary_data[i:i + 8].copy() for i in range(0, 48, 8)]
    batches[bad_batch][bad_row, 5] = np.nan
    return batches


class _Batches(keras.utils.PyDataset):
    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        return (self.batches[index],)


@pytest.mark.parametrize("kind", ["generator", "py_dataset", "tf_data", "dataloader"])
def test_nan_in_a_stream_stops_fit_at_that_batch_with_weights_intact(binary_data, kind):
    batches = _batches_with_nan(binary_data)
    if kind == "generator":
        stream = ((b,) for b in batches)
    elif kind == "py_dataset":
        stream = _Batches(batches)
    elif kind == "tf_data":
        tf = pytest.importorskip("tensorflow")
        stream = tf.data.Dataset.from_tensor_slices(np.stack(batches))
    else:
        torch = pytest.importorskip("torch")
        stream = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.from_numpy(np.concatenate(batches))), batch_size=8)
    model = IWAE(*tiny_networks(), num_samples=2, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(binary_data[:8], batch_size=8, epochs=1, verbose=0)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append([np.array(w) for w in self.model.get_weights()])

    with pytest.raises(ValueError, match=r"`x \(batch 2\)` contains NaN or inf \(first at "
                                         r"example index 3\)"):
        model.fit(stream, epochs=1, verbose=0, callbacks=[Record()])
    # Batches 0 and 1 trained; the NaN batch never reached a step.
    assert len(seen) <= 2
    for w in model.get_weights():
        assert np.all(np.isfinite(np.array(w)))


@pytest.mark.parametrize("call", ["predict", "predict_on_batch", "reconstruct", "encode"])
def test_inference_calls_check_their_input_too(binary_data, call):
    model = compiled()
    with pytest.raises(ValueError, match=r"Bernoulli likelihood expects `x` in \[0, 1\]"):
        getattr(model, call)(binary_data * 255)
    with pytest.raises(ValueError, match=r"Expected `x` of shape"):
        getattr(model, call)(binary_data[:, :5])
    getattr(model, call)(binary_data)  # good input still works


def test_fine_tuning_a_binary_zoo_entry_on_grey_levels_warns(binary_data):
    from keras_vae import zoo

    model = zoo.load("mnist_iwae")
    assert model.trained_on_binary_pixels
    model.compile(optimizer="adam")
    grey = np.random.default_rng(0).random((20, 784)).astype("float32")
    with pytest.warns(UserWarning, match="trained on binary pixels"):
        model.fit(grey, epochs=1, batch_size=20, verbose=0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit((grey > 0.5).astype("float32"), epochs=1, batch_size=20, verbose=0)
    assert not zoo.load("fashion_mnist_vae").trained_on_binary_pixels
