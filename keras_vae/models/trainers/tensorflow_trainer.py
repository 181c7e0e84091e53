import tensorflow as tf

from keras_vae.models.trainers.base import BaseTrainer


class TensorFlowTrainer(BaseTrainer):
    """`train_step` with a `tf.GradientTape`."""

    def _uniform_like(self, x, seed, step):
        seeds = tf.stack([tf.constant(seed, tf.int64), tf.cast(step, tf.int64)])
        return tf.random.stateless_uniform(tf.shape(x), seed=seeds, dtype=x.dtype)

    def train_step(self, data):
        x = self._binarize(self._unpack(data), self._step_counter())
        with tf.GradientTape() as tape:
            losses = self.compute_losses(x, training=True)
            # Under tf.distribute the optimizer sums the replicas' gradients:
            # each replica's mean loss is divided by their number, so a step
            # on N replicas equals a step on the whole batch on one device.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(losses["loss"] / replicas)
        variables = self.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply(grads, variables)
        return self._update_trackers(losses, tf.shape(x)[0])

    def gradients(self, loss_fn, variables):
        """(loss, d loss / d variables) for a zero-argument scalar `loss_fn`."""
        with tf.GradientTape() as tape:
            loss = loss_fn()
        return loss, tape.gradient(loss, variables)

    def value_and_input_gradient(self, fn, z):
        """(fn(z), d sum(fn(z)) / dz): the gradient HMC needs, z a tensor."""
        with tf.GradientTape() as tape:
            tape.watch(z)
            value = fn(z)
            total = tf.reduce_sum(value)
        return value, tape.gradient(total, z)

    def make_inference_function(self, fn):
        # Graph mode without XLA: the fastest path on CPU for these models,
        # and XLA recompiles for every new chunk shape.
        return tf.function(fn, reduce_retracing=True)
