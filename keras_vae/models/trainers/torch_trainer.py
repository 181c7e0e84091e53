import torch

from keras_vae.models.trainers.base import BaseTrainer


def _mix(seed, step):
    """One 32-bit seed per (seed, step) pair, by SplitMix64's finalizer.

    A torch generator takes one integer and the CPU one keeps only its low 32
    bits, so `(seed << 32) | step` would give every seed the same draws.
    """
    mask = (1 << 64) - 1
    z = ((seed << 32) | (step & 0xFFFFFFFF)) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return (z ^ (z >> 31)) & 0xFFFFFFFF


class TorchTrainer(BaseTrainer):
    """`train_step` with `backward()` and `optimizer.apply`."""

    def _uniform_like(self, x, seed, step):
        generator = torch.Generator(device=x.device)
        generator.manual_seed(_mix(seed, int(step)))
        return torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)

    def train_step(self, data):
        x = self._binarize(self._unpack(data), self._step_counter().value)
        self.zero_grad()
        losses = self.compute_losses(x, training=True)
        self.optimizer.scale_loss(losses["loss"]).backward()
        variables = self.trainable_variables
        grads = [v.value.grad for v in variables]
        with torch.no_grad():
            self.optimizer.apply(grads, variables)
        detached = {k: v.detach() for k, v in losses.items()}
        return self._update_trackers(detached, x.shape[0])

    def test_step(self, data):
        with torch.no_grad():
            return super().test_step(data)

    def gradients(self, loss_fn, variables):
        """(loss, d loss / d variables) for a zero-argument scalar `loss_fn`."""
        loss = loss_fn()
        grads = torch.autograd.grad(loss, [v.value for v in variables], allow_unused=True)
        return loss.detach(), list(grads)

    def value_and_input_gradient(self, fn, z):
        """(fn(z), d sum(fn(z)) / dz): the gradient HMC needs, z a tensor."""
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            value = fn(z)
            (grad,) = torch.autograd.grad(value.sum(), z)
        return value.detach(), grad

    def make_inference_function(self, fn):
        def run(*args):
            with torch.no_grad():
                return fn(*args)

        return run
