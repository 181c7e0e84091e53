"""Training recipes of the zoo entries, and their model cards.

The MNIST recipes follow the IWAE paper (Burda et al. 2015, section 5):
Adam (0.9, 0.999, eps 1e-4), batch 20, stage i = 0..7 of 3^i epochs at
learning rate 1e-3 * 10^(-i/7) (3280 epochs in all), output bias at the
logit of the mean training pixel.
"""

import dataclasses
import json


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    dataset: str
    model: str
    num_samples: int
    likelihood: str = "bernoulli"
    architecture: str = "mlp"
    latent_dim: int = 50
    batch_size: int = 20
    stages: int = 8
    anchor_nll: float = None
    anchor_source: str = ""
    dynamic_binarization: bool = False

    @property
    def total_epochs(self):
        return sum(3**i for i in range(self.stages))

    def stage(self, epoch):
        """Stage index i of a 0-based epoch: stage i spans 3^i epochs."""
        i, end = 0, 1
        while epoch >= end and i < self.stages - 1:
            i += 1
            end += 3**i
        return i

    def learning_rate(self, epoch):
        return 1e-3 * 10 ** (-self.stage(epoch) / 7)

    def build(self, x_train=None, seed=0):
        """A fresh model for this recipe (output bias from `x_train` when given)."""
        from keras_vae import models, networks

        if self.architecture != "mlp":
            raise NotImplementedError(
                f"The {self.architecture!r} architecture of {self.name!r} is not built yet.")
        bias = None
        if x_train is not None and self.likelihood == "bernoulli":
            bias = networks.output_bias_from_data(x_train.reshape(len(x_train), -1))
        encoder = networks.mlp_encoder((784,), self.latent_dim)
        decoder = networks.mlp_decoder(self.latent_dim, (784,), likelihood=self.likelihood,
                                       output_bias=bias)
        cls = getattr(models, self.model)
        return cls(encoder, decoder, likelihood=self.likelihood, num_samples=self.num_samples,
                   seed=seed, name=self.name)

    def describe(self):
        return dataclasses.asdict(self) | {"total_epochs": self.total_epochs}


_PAPER = "Burda et al. 2015 (arXiv:1509.00519), Table 1"
RECIPES = {r.name: r for r in [
    Recipe("mnist_vae", "mnist", "VAE", 1, anchor_nll=86.76, anchor_source=_PAPER,
           dynamic_binarization=True),
    Recipe("mnist_iwae", "mnist", "IWAE", 50, anchor_nll=84.78, anchor_source=_PAPER,
           dynamic_binarization=True),
    Recipe("binarized_mnist_iwae", "binarized_mnist", "IWAE", 50, anchor_nll=87.10,
           anchor_source="Burda et al. 2015, appendix (static binarization)"),
]}


def model_card(name, metadata):
    """Markdown model card from an entry's metadata."""
    results = metadata.get("results", {})
    recipe = metadata.get("recipe", {})
    lines = [
        f"# {name}",
        "",
        f"{recipe.get('model', '?')} (k={recipe.get('num_samples', '?')}) on {recipe.get('dataset', '?')}, "
        f"IWAE paper MLP (784-200-200-{recipe.get('latent_dim', 50)}, tanh), "
        f"{recipe.get('likelihood', '?')} likelihood.",
        "",
        "## Results",
        "",
        "| quantity | value |",
        "|---|---|",
    ]
    for key, value in results.items():
        lines.append(f"| {key} | {value} |")
    if recipe.get("anchor_nll"):
        lines.append(f"| published NLL ({recipe.get('anchor_source')}) | {recipe['anchor_nll']} |")
    lines += [
        "",
        "## Training",
        "",
        f"- Recipe: Adam (0.9, 0.999, eps 1e-4), batch {recipe.get('batch_size')}, stage i of 3^i epochs "
        f"at lr 1e-3 * 10^(-i/7); the paper's full schedule is {recipe.get('total_epochs')} epochs.",
        f"- Epochs run: {metadata.get('epochs')} ({metadata.get('wall_time_hours', '?')} h wall time).",
        f"- Backend and device: {metadata.get('backend')} on {metadata.get('device')}.",
        f"- Command: `{metadata.get('command', '')}`",
        f"- Seed: {metadata.get('seed')}",
        "",
        "## Data",
        "",
        "MNIST (LeCun, Cortes and Burges; CC BY-SA 3.0)"
        + (", dynamically binarized each epoch as in the IWAE paper; the test set is binarized "
           "once with a fixed seed." if recipe.get("dynamic_binarization") else "."),
        "",
        "## Citation",
        "",
        "Burda, Grosse, Salakhutdinov. Importance Weighted Autoencoders. ICLR 2016. arXiv:1509.00519.",
        "",
        "<details><summary>metadata.json</summary>\n\n```json\n"
        + json.dumps(metadata, indent=1, sort_keys=True) + "\n```\n</details>",
    ]
    return "\n".join(lines) + "\n"
