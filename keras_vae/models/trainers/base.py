"""What the three trainers share: unpacking batches and the metric trackers.

Nothing here takes a gradient; the backend files do only that.
"""

from keras import ops

from keras_vae.models.input_checks import batch_inputs


class BaseTrainer:
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
