"""Training recipes of the zoo entries, and their model cards.

The MNIST recipes follow the IWAE paper (Burda et al. 2015, section 5):
Adam (0.9, 0.999, eps 1e-4), batch 20, stage i = 0..7 of 3^i epochs at
learning rate 1e-3 * 10^(-i/7) (3280 epochs in all), output bias at the
logit of the mean training pixel. The 8-bit image entries (Fashion-MNIST,
SVHN) keep that optimizer and schedule with the small convolutional pair of
`keras_vae.networks` and a discretized logistic likelihood on raw pixels.
"""

import dataclasses
import json
import math

_IMAGE_SHAPES = {"svhn": (32, 32, 3)}
# Maps 8-bit pixels to [-1, 1] at the encoder's input.
_INPUT_SCALE = (1 / 127.5, -1.0)

DATA_CARDS = {
    "mnist": "MNIST (LeCun, Cortes and Burges; CC BY-SA 3.0)",
    "binarized_mnist": "Statically binarized MNIST (Larochelle and Murray 2011; from MNIST, "
                       "CC BY-SA 3.0), the standard 50k/10k/10k split",
    "fashion_mnist": "Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, arXiv:1708.07747; Zalando "
                     "Research, MIT licence), 8-bit grey levels",
    "svhn": "SVHN cropped digits (Netzer et al. 2011; non-commercial use only), 32x32 RGB, "
            "8-bit, train split only (the extra split is not used)",
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    dataset: str
    model: str
    num_samples: int
    likelihood: str = "bernoulli"
    architecture: str = "mlp"
    # An int, or one size per stochastic layer (the paper's (100, 50)).
    latent_dim: int = 50
    batch_size: int = 20
    stages: int = 8
    anchor_nll: float = None
    anchor_source: str = ""
    dynamic_binarization: bool = False
    # Extra model arguments, e.g. {"num_groups": 8} or {"gradient_estimator": "dreg"}.
    options: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_metadata(cls, recipe):
        """The recipe recorded in an entry's metadata (`describe()`'s output)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in recipe.items() if k in fields}
        return cls(**values)

    @property
    def image_shape(self):
        return _IMAGE_SHAPES.get(self.dataset, (28, 28, 1))

    @property
    def input_shape(self):
        """The event shape the model sees: flat pixels for the MLP, images for conv."""
        if self.architecture == "mlp":
            return (math.prod(self.image_shape),)
        return self.image_shape

    @property
    def stochastic_layers(self):
        return len(self.latent_dim) if isinstance(self.latent_dim, (list, tuple)) else 1

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

        if self.architecture == "conv":
            encoder = networks.conv_encoder(self.input_shape, self.latent_dim,
                                            input_scale=_INPUT_SCALE)
            decoder = networks.conv_decoder(self.latent_dim, self.input_shape,
                                            likelihood=self.likelihood)
        elif self.architecture == "mlp":
            bias = None
            if x_train is not None and self.likelihood == "bernoulli":
                bias = networks.output_bias_from_data(x_train.reshape(len(x_train), -1))
            if self.stochastic_layers > 1:
                encoder, decoder = networks.mlp_hierarchy(
                    self.input_shape, tuple(self.latent_dim), likelihood=self.likelihood,
                    output_bias=bias)
            else:
                encoder = networks.mlp_encoder(self.input_shape, self.latent_dim)
                decoder = networks.mlp_decoder(self.latent_dim, self.input_shape,
                                               likelihood=self.likelihood, output_bias=bias)
        else:
            raise ValueError(f"Unknown architecture {self.architecture!r} in recipe {self.name!r}; "
                             "expected 'mlp' or 'conv'.")
        cls = getattr(models, self.model)
        return cls(encoder, decoder, likelihood=self.likelihood, num_samples=self.num_samples,
                   seed=seed, name=self.name, **self.options)

    def describe(self):
        return dataclasses.asdict(self) | {"total_epochs": self.total_epochs,
                                           "stochastic_layers": self.stochastic_layers}

    def architecture_text(self):
        if self.architecture == "mlp" and self.stochastic_layers > 1:
            from keras_vae import networks

            hidden = networks.paper_hidden_units(self.latent_dim)
            path = "-".join(f"{'-'.join(map(str, h))}-[z{i + 1}: {d}]"
                            for i, (h, d) in enumerate(zip(hidden, self.latent_dim)))
            return (f"IWAE paper MLP with {self.stochastic_layers} stochastic layers "
                    f"({math.prod(self.image_shape)}-{path}, tanh, mirrored in p(z_1 | z_2) "
                    "and p(x | z_1))")
        if self.architecture == "mlp":
            return (f"IWAE paper MLP ({math.prod(self.image_shape)}-200-200-{self.latent_dim}, "
                    "tanh)")
        return (f"convolutional encoder (3x3 stride-2 convolutions of 32 and 64 channels, dense "
                f"256, relu) and decoder (dense to 64 channels at 1/4 size, a 3x3 stride-2 "
                f"transposed convolution of 32 channels, then one 3x3 stride-2 transposed "
                f"convolution per likelihood parameter), z of size {self.latent_dim}")


_PAPER = "Burda et al. 2015 (arXiv:1509.00519), Table 1"
RECIPES = {r.name: r for r in [
    Recipe("mnist_vae", "mnist", "VAE", 1, anchor_nll=86.76, anchor_source=_PAPER,
           dynamic_binarization=True),
    Recipe("mnist_iwae", "mnist", "IWAE", 50, anchor_nll=84.78, anchor_source=_PAPER,
           dynamic_binarization=True),
    Recipe("mnist_iwae_2layer", "mnist", "IWAE", 50, latent_dim=(100, 50), anchor_nll=82.90,
           anchor_source=_PAPER, dynamic_binarization=True),
    # The rest of the IWAE paper's Table 1 (dynamic MNIST): VAE and IWAE at k = 5 and 50 with
    # one and two stochastic layers. IWAE at k=1 is the k=1 VAE, so it has no recipe of its own.
    *(Recipe(f"mnist_{model.lower()}{suffix}{'' if k == 1 else f'_k{k}'}", "mnist", model, k,
             latent_dim=latent, anchor_nll=anchor, anchor_source=_PAPER,
             dynamic_binarization=True)
      for suffix, latent, cells in (
          ("", 50, (("VAE", 5, 86.47), ("VAE", 50, 86.35), ("IWAE", 5, 85.54))),
          ("_2layer", (100, 50), (("VAE", 1, 85.33), ("VAE", 5, 85.01), ("VAE", 50, 84.78),
                                  ("IWAE", 5, 83.89))))
      for model, k, anchor in cells),
    Recipe("binarized_mnist_iwae", "binarized_mnist", "IWAE", 50, anchor_nll=87.10,
           anchor_source="Burda et al. 2015, appendix (static binarization)"),
    *(Recipe(f"{data}_{model.lower()}", data, model, k, likelihood="discretized_logistic",
             architecture="conv", latent_dim=latent)
      for data, latent in (("fashion_mnist", 50), ("svhn", 100))
      for model, k in (("VAE", 1), ("IWAE", 50))),
]}


def _architecture_text(recipe):
    # Entries saved by users through `zoo.save` may record only part of a recipe.
    required = {f.name for f in dataclasses.fields(Recipe)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    if not required <= set(recipe):
        return "architecture in config.json"
    return Recipe.from_metadata(recipe).architecture_text()


def _command_lines(metadata):
    """The card's commands: each that trained, with its epochs, and the one that wrote the entry."""
    runs = metadata.get("commands") or []
    if not runs:  # entries written before commands were recorded one by one
        return [f"- Command: `{metadata.get('command', '')}`"]
    lines = []
    if runs[0]["epochs"][0] > 0:
        lines.append(f"- Run started by: `{metadata.get('command', '')}`")
    lines += [f"- Epochs {a}-{b}: `{c['command']}`" for c in runs for a, b in [c["epochs"]]]
    if metadata.get("finish_command"):
        lines.append(f"- Evaluated and written by: `{metadata['finish_command']}`")
    if metadata.get("results_command"):
        lines.append(f"- Test results from: `{metadata['results_command']}`")
    return lines


def _result_names(num_samples):
    return ("test NLL, K=5000 (nats)", "test bits/dim", f"test -L_{num_samples} (training bound)",
            "test points", "mean ESS (K=5000)")


def card_results(summary, num_samples):
    """The model card's results rows from `evaluation.summarize`'s output, in card order."""
    s = summary
    return dict(zip(_result_names(num_samples), (
        f"{s['nll']:.2f} ± {s['nll_se']:.2f}", f"{s['bits_per_dim']:.4f}", f"{s['bound']:.2f}",
        s["points"], f"{s['ess']:.1f}")))


def _ordered_results(results, num_samples):
    # metadata.json sorts its keys: card_results' rows go back to their order,
    # anything else an entry recorded after them
    order = _result_names(num_samples)
    return sorted(results.items(),
                  key=lambda item: order.index(item[0]) if item[0] in order else len(order))


# Below this mean effective sample size (of K=5000) a point's estimate rests on a
# handful of importance weights, and the upper bound it gives can be far from
# log p(x): the Fashion-MNIST entries sit there, tens of nats above AIS.
LOW_ESS = 5.0


def _low_ess_lines(raw):
    ess = raw.get("ess")
    if ess is None or ess >= LOW_ESS:
        return []
    return ["", f"The mean effective sample size of the K={raw.get('num_samples', 5000)} "
                f"importance weights is {ess:.1f}: each point's estimate rests on a few samples, "
                "so the NLL and bits/dim above are upper bounds that may be loose by many nats "
                "(annealed importance sampling, `benchmarks.loglik`'s AIS rows, measures by how "
                "much)."]


def model_card(name, metadata):
    """Markdown model card from an entry's metadata."""
    results = metadata.get("results", {})
    recipe = metadata.get("recipe", {})
    lines = [
        f"# {name}",
        "",
        f"{recipe.get('model', '?')} (k={recipe.get('num_samples', '?')}) on {recipe.get('dataset', '?')}, "
        f"{_architecture_text(recipe)}, "
        f"{recipe.get('likelihood', '?')} likelihood.",
        "",
        "## Results",
        "",
        "| quantity | value |",
        "|---|---|",
    ]
    for key, value in _ordered_results(results, recipe.get("num_samples")):
        lines.append(f"| {key} | {value} |")
    if recipe.get("anchor_nll"):
        lines.append(f"| published NLL ({recipe.get('anchor_source')}) | {recipe['anchor_nll']} |")
        measured = metadata.get("results_raw", {}).get("nll")
        if measured is not None:
            lines.append(f"| gap to the published NLL after {metadata.get('epochs')} of "
                         f"{recipe.get('total_epochs')} epochs | {measured - recipe['anchor_nll']:+.2f} |")
    lines += _low_ess_lines(metadata.get("results_raw", {}))
    lines += [
        "",
        "## Training",
        "",
        f"- Recipe: Adam (0.9, 0.999, eps 1e-4), batch {recipe.get('batch_size')}, stage i of 3^i epochs "
        f"at lr 1e-3 * 10^(-i/7); the paper's full schedule is {recipe.get('total_epochs')} epochs.",
        f"- Epochs run: {metadata.get('epochs')} ({metadata.get('wall_time_hours', '?')} h wall time).",
        f"- Backend and device: {metadata.get('backend')} on {metadata.get('device')}.",
        *_command_lines(metadata),
        f"- Seed: {metadata.get('seed')}",
        "",
        "## Data",
        "",
        DATA_CARDS.get(recipe.get("dataset"), recipe.get("dataset", "?"))
        + (", dynamically binarized each epoch as in the IWAE paper; the test set is binarized "
           "once with a fixed seed." if recipe.get("dynamic_binarization") else "."),
        "",
        "## Citation",
        "",
        "Burda, Grosse, Salakhutdinov. Importance Weighted Autoencoders. ICLR 2016. arXiv:1509.00519.",
        *(["", "Salimans et al. PixelCNN++ (the discretized logistic likelihood). arXiv:1701.05517."]
          if recipe.get("likelihood") == "discretized_logistic" else []),
        "",
        "<details><summary>metadata.json</summary>\n\n```json\n"
        + json.dumps(metadata, indent=1, sort_keys=True) + "\n```\n</details>",
    ]
    return "\n".join(lines) + "\n"
