import math

import keras
import numpy as np
import pytest
from keras import ops

from grad_utils import value_and_grad
from keras_vae.layers import GaussianHead, GaussianSampler, VarianceFloor

rng = np.random.default_rng(0)


def np_(t):
    return ops.convert_to_numpy(t).astype(np.float64)


def roundtrip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == config
    return clone


class TestGaussianSampler:
    def test_noise_path_is_the_reparameterization(self):
        mean, log_var = rng.normal(size=(2, 4, 3)).astype("float32")
        noise = rng.normal(size=(5, 4, 3)).astype("float32")
        z = np_(GaussianSampler()(mean, log_var, num_samples=5, noise=noise))
        np.testing.assert_allclose(z, mean + np.exp(0.5 * log_var) * noise, rtol=1e-6, atol=1e-6)

    def test_shapes_with_and_without_num_samples(self):
        sampler = GaussianSampler(seed=1)
        mean = np.zeros((4, 3), "float32")
        assert tuple(sampler(mean, mean).shape) == (4, 3)
        assert tuple(sampler(mean, mean, num_samples=7).shape) == (7, 4, 3)

    def test_sample_moments(self):
        mean = np.array([[1.5, -2.0]], "float32")
        log_var = np.array([[np.log(0.25), np.log(4.0)]], "float32")
        z = np_(GaussianSampler(seed=3)(mean, log_var, num_samples=40_000))[:, 0]
        std = np.array([0.5, 2.0])
        # 5 standard errors of the mean and of the variance.
        assert np.all(np.abs(z.mean(0) - mean[0]) < 5 * std / math.sqrt(40_000))
        assert np.all(np.abs(z.var(0) / std**2 - 1) < 5 * math.sqrt(2 / 40_000))

    def test_seed_reproduces_and_state_advances(self):
        mean = np.zeros((2, 3), "float32")
        a, b = GaussianSampler(seed=5), GaussianSampler(seed=5)
        first = np_(a(mean, mean, num_samples=2))
        np.testing.assert_array_equal(first, np_(b(mean, mean, num_samples=2)))
        assert not np.allclose(first, np_(a(mean, mean, num_samples=2)))

    @pytest.mark.parametrize("bad", [0, -1, 2.5, "3", True])
    def test_bad_num_samples(self, bad):
        with pytest.raises(ValueError, match="num_samples"):
            GaussianSampler()(np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32"),
                              num_samples=bad)

    def test_bad_noise_and_shapes(self):
        zeros = np.zeros((2, 3), "float32")
        with pytest.raises(ValueError, match="noise"):
            GaussianSampler()(zeros, zeros, num_samples=4, noise=np.zeros((3, 2, 3)))
        with pytest.raises(ValueError, match="log_var"):
            GaussianSampler()(zeros, np.zeros((2, 4), "float32"))
        with pytest.raises(ValueError, match="seed"):
            GaussianSampler(seed="abc")

    def test_config_roundtrip(self):
        assert roundtrip(GaussianSampler(seed=11, name="s")).seed == 11


class TestVarianceFloor:
    def test_matches_numpy_soft_floor_and_ceiling(self):
        raw = np.linspace(-30, 30, 61).astype("float32")
        floor = np_(VarianceFloor(1e-3)(raw))
        np.testing.assert_allclose(floor, np.logaddexp(raw, np.log(1e-3)), rtol=1e-6, atol=1e-6)
        both = np_(VarianceFloor(1e-3, 10.0)(raw))
        ref = -np.logaddexp(-np.logaddexp(raw, np.log(1e-3)), -np.log(10.0))
        np.testing.assert_allclose(both, ref, rtol=1e-6, atol=1e-6)

    def test_bounds_hold_for_extreme_inputs(self):
        raw = np.array([-1e4, -100, 0, 100, 1e4], "float32")
        variance = np.exp(np_(VarianceFloor(1e-4, 1e3)(raw)))
        assert np.all(variance >= 1e-4 * (1 - 1e-5)) and np.all(variance <= 1e3 * (1 + 1e-5))

    def test_gradients_finite_and_never_clipped(self):
        raw = np.array([-1e4, -50.0, -5.0, 0.0, 5.0, 50.0, 1e4], "float32")
        _, grad = value_and_grad(VarianceFloor(1e-2, 1e2), raw)
        assert np.all(np.isfinite(grad))
        def reference(r):
            return -np.logaddexp(-np.logaddexp(r, np.log(1e-2)), -np.log(1e2))

        r, h = raw.astype(np.float64), 1e-4
        expected = (reference(r + h) - reference(r - h)) / (2 * h)
        np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=1e-7)
        # Soft, not clipped: inside the range the gradient stays clearly non-zero.
        assert np.all(grad[1:6] > 0) and np.all(grad[2:5] > 0.1)

    @pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), "x"])
    def test_bad_min_variance(self, bad):
        with pytest.raises(ValueError, match="min_variance"):
            VarianceFloor(bad)

    def test_ceiling_below_floor(self):
        with pytest.raises(ValueError, match="max_variance"):
            VarianceFloor(1.0, 0.5)

    def test_config_roundtrip(self):
        clone = roundtrip(VarianceFloor(1e-3, 50.0))
        assert clone.min_variance == 1e-3 and clone.max_variance == 50.0


class TestGaussianHead:
    def test_dense_head(self):
        head = GaussianHead(4, min_variance=1e-2)
        mean, log_var = head(rng.normal(size=(5, 6)).astype("float32") * 1e3)
        assert tuple(mean.shape) == tuple(log_var.shape) == (5, 4)
        variance = np.exp(np_(log_var))
        assert np.all(np.isfinite(variance)) and np.all(variance >= 1e-2 * (1 - 1e-5))
        assert np.all(variance <= 1e4 * (1 + 1e-5))

    def test_conv_head(self):
        mean, log_var = GaussianHead(2, conv=True)(np.ones((3, 4, 4, 5), "float32"))
        assert tuple(mean.shape) == tuple(log_var.shape) == (3, 4, 4, 2)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="min_variance"):
            GaussianHead(2, min_variance=0.0)
        with pytest.raises(ValueError, match="units"):
            GaussianHead(0)

    def test_config_roundtrip(self):
        clone = roundtrip(GaussianHead(3, min_variance=1e-3, max_variance=None, conv=True))
        assert clone.units == 3 and clone.conv and clone.max_variance is None
