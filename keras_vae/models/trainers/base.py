"""What the three trainers share: unpacking batches and the metric trackers.

Nothing here takes a gradient; the backend files do only that.
"""

from keras import ops

from keras_vae.models.input_checks import batch_inputs


class BaseTrainer:
    step_binarization_seed = None

    def binarize_in_step(self, seed):
        """Makes each training step binarize its batch itself, on the device.

        With an integer `seed`, `fit` expects pixel intensities in [0, 1] and
        every training step replaces them by a Bernoulli draw seeded by
        `(seed, optimizer.iterations)`: the draw of a step depends only on the
        seed and the step's index in the run, whatever `steps_per_execution`
        and wherever the run was stopped and resumed, and no binarized copy
        of the training set is made on the host. Evaluation steps see their
        data as given. `seed=None` turns it off. Not part of the model's
        config: it is a way of training, like the data it is fitted on.
        """
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
                raise ValueError("Expected `seed` to be an integer in [0, 2**31) or None. "
                                 f"Received: seed={seed!r}")
            if getattr(self.likelihood, "name", None) != "bernoulli":
                raise ValueError("`binarize_in_step` draws binary pixels for a Bernoulli "
                                 "likelihood; this model's likelihood is "
                                 f"{getattr(self.likelihood, 'name', self.likelihood)!r}.")
        self.step_binarization_seed = seed

    def _step_counter(self):
        """The optimizer's variable counting steps (micro-steps under gradient accumulation)."""
        optimizer = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        return getattr(optimizer, "_iterations", optimizer.iterations)

    def _binarize(self, x, step):
        """x, or its Bernoulli draw for training step `step` (see `binarize_in_step`)."""
        if self.step_binarization_seed is None:
            return x
        x = ops.cast(x, "float32")
        u = self._uniform_like(x, self.step_binarization_seed, step)
        return ops.cast(ops.less(u, x), "float32")

    def _unpack(self, data):
        # Torch's `train_on_batch` hands raw NumPy to the step, tf.data may
        # yield uint8: convert once here for every backend.
        x = ops.convert_to_tensor(batch_inputs(data))
        if "float" not in str(x.dtype):
            x = ops.cast(x, "float32")
        if not self.built:
            # TensorFlow defers building to the first trace of the step.
            self.build((None,) + tuple(x.shape[1:]))
        return x

    def _update_trackers(self, losses, batch_size):
        for name, tracker in self.trackers.items():
            tracker.update_state(losses[name], sample_weight=batch_size)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        x = self._unpack(data)
        losses = self.compute_losses(x, training=False)
        return self._update_trackers(losses, ops.shape(x)[0])

    def make_inference_function(self, fn):
        """Returns `fn` compiled for repeated inference calls (no gradients).

        `fn` reads the model's variables and may advance its seed state.
        """
        return fn
