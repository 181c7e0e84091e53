import jax
from keras import StatelessScope, ops

from keras_vae.models.trainers.base import BaseTrainer


class JAXTrainer(BaseTrainer):
    """Stateless `train_step` / `test_step` for `jax.jit`.

    The step receives every variable as a value and must return the updated
    values. The non-trainable state includes the sampler's seed: if it were
    not returned, every step would replay the same noise.
    """

    def _stateless_losses(self, trainable, non_trainable, x, training,
                          optimizer_variables=None):
        mapping = list(zip(self.trainable_variables, trainable)) + list(
            zip(self.non_trainable_variables, non_trainable)
        )
        with StatelessScope(state_mapping=mapping) as scope:
            losses = self.compute_losses(x, training=training)
        new_non_trainable = [
            scope.get_current_value(v) for v in self.non_trainable_variables
        ]
        loss = losses["loss"]
        if optimizer_variables is not None:
            with StatelessScope(
                state_mapping=list(zip(self.optimizer.variables, optimizer_variables))
            ):
                loss = self.optimizer.scale_loss(loss)
        return loss, (losses, new_non_trainable)

    def _stateless_trackers(self, metrics_variables, losses, batch_size):
        mapping = list(zip(self.metrics_variables, metrics_variables))
        with StatelessScope(state_mapping=mapping) as scope:
            logs = self._update_trackers(losses, batch_size)
        new_values = []
        for ref, old in zip(self.metrics_variables, metrics_variables):
            value = scope.get_current_value(ref)
            new_values.append(old if value is None else value)
        return logs, new_values

    def _uniform_like(self, x, seed, step):
        key = jax.random.fold_in(jax.random.PRNGKey(seed), step)
        return jax.random.uniform(key, x.shape, x.dtype)

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_variables, metrics_variables = state
        x = self._unpack(data)
        if self.step_binarization_seed is not None:
            step = next(value for variable, value in zip(self.optimizer.variables,
                                                         optimizer_variables)
                        if variable is self._step_counter())
            x = self._binarize(x, step)
        grad_fn = jax.value_and_grad(self._stateless_losses, has_aux=True)
        (_, (losses, non_trainable)), grads = grad_fn(
            trainable, non_trainable, x, True, optimizer_variables
        )
        trainable, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable
        )
        logs, metrics_variables = self._stateless_trackers(
            metrics_variables, losses, ops.shape(x)[0]
        )
        return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)

    def test_step(self, state, data):
        trainable, non_trainable, metrics_variables = state
        x = self._unpack(data)
        _, (losses, non_trainable) = self._stateless_losses(
            trainable, non_trainable, x, False
        )
        logs, metrics_variables = self._stateless_trackers(
            metrics_variables, losses, ops.shape(x)[0]
        )
        return logs, (trainable, non_trainable, metrics_variables)

    def gradients(self, loss_fn, variables):
        """(loss, d loss / d variables) for a zero-argument scalar `loss_fn`.

        Runs statelessly and then writes back the advanced seed state, so
        repeated calls see fresh noise.
        """
        state = [v for v in self.non_trainable_variables if all(v is not w for w in variables)]

        def f(values, state_values):
            mapping = list(zip(variables, values)) + list(zip(state, state_values))
            with StatelessScope(state_mapping=mapping) as scope:
                loss = loss_fn()
            return loss, [scope.get_current_value(v) for v in state]

        (loss, new_state), grads = jax.value_and_grad(f, has_aux=True)(
            [v.value for v in variables], [v.value for v in state])
        for variable, value in zip(state, new_state):
            variable.assign(value)
        return loss, grads

    def value_and_input_gradient(self, fn, z):
        """(fn(z), d sum(fn(z)) / dz): the gradient HMC needs, z a tensor."""

        def total(z):
            value = fn(z)
            return value.sum(), value

        (_, value), grad = jax.value_and_grad(total, has_aux=True)(z)
        return value, grad

    def make_inference_function(self, fn):
        variables = self.trainable_variables + self.non_trainable_variables
        state_variables = self.non_trainable_variables

        @jax.jit
        def stateless(values, *args):
            with StatelessScope(
                state_mapping=list(zip(variables, values))
            ) as scope:
                outputs = fn(*args)
            return outputs, [scope.get_current_value(v) for v in state_variables]

        def run(*args):
            outputs, new_state = stateless([v.value for v in variables], *args)
            for variable, value in zip(state_variables, new_state):
                variable.assign(value)
            return outputs

        return run
