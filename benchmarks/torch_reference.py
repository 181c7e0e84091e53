"""The IWAE paper's MLP written directly in PyTorch, and pythae's IWAE, as peers.

Same architecture and math as `keras_vae.networks.mlp_*` with the Bernoulli
likelihood: 784-200-200-(50, 50) tanh encoder, 50-200-200-784 decoder.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

LOG_2PI = math.log(2 * math.pi)


class PlainIWAE(nn.Module):
    def __init__(self, dim=784, hidden=200, latent=50, num_samples=1):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden),
                                     nn.Tanh(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.Tanh(), nn.Linear(hidden, hidden),
                                     nn.Tanh(), nn.Linear(hidden, dim))
        self.num_samples = num_samples
        self.min_log_var = math.log(1e-6)

    def log_weights(self, x, num_samples):
        mean, raw = self.encoder(x).chunk(2, dim=-1)
        log_var = torch.logaddexp(raw, torch.tensor(self.min_log_var))
        eps = torch.randn((num_samples,) + mean.shape, device=x.device)
        z = mean + torch.exp(0.5 * log_var) * eps
        logits = self.decoder(z)
        log_px_z = (x * logits - F.softplus(logits)).sum(-1)
        log_pz = -0.5 * (LOG_2PI + z**2).sum(-1)
        log_qz = -0.5 * (LOG_2PI + log_var + eps**2).sum(-1)
        return log_px_z + log_pz - log_qz

    def loss(self, x):
        log_w = self.log_weights(x, self.num_samples)
        return -(torch.logsumexp(log_w, 0) - math.log(self.num_samples)).mean()

    @torch.no_grad()
    def log_likelihood(self, x, num_samples=5000, chunk=500):
        lse = torch.full((x.shape[0],), -math.inf, device=x.device)
        for start in range(0, num_samples, chunk):
            size = min(chunk, num_samples - start)
            lse = torch.logaddexp(lse, torch.logsumexp(self.log_weights(x, size), 0))
        return lse - math.log(num_samples)


def plain_train_step(model, optimizer):
    def step(x):
        optimizer.zero_grad(set_to_none=True)
        loss = model.loss(x)
        loss.backward()
        optimizer.step()
        return loss

    return step


def pythae_model(num_samples, dim=784, latent=50):
    """pythae's IWAE (k > 1) or VAE (k = 1) with the same MLP, Bernoulli ("bce") output."""
    from pythae.models import IWAE, IWAEConfig, VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(dim, 200), nn.Tanh(), nn.Linear(200, 200), nn.Tanh())
            self.mean, self.log_var = nn.Linear(200, latent), nn.Linear(200, latent)

        def forward(self, x):
            h = self.net(x.reshape(x.shape[0], -1))
            return ModelOutput(embedding=self.mean(h), log_covariance=self.log_var(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(latent, 200), nn.Tanh(), nn.Linear(200, 200),
                                     nn.Tanh(), nn.Linear(200, dim), nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z))

    if num_samples > 1:
        config = IWAEConfig(input_dim=(dim,), latent_dim=latent, reconstruction_loss="bce",
                            number_samples=num_samples)
        return IWAE(config, Encoder(), Decoder())
    config = VAEConfig(input_dim=(dim,), latent_dim=latent, reconstruction_loss="bce")
    return VAE(config, Encoder(), Decoder())
