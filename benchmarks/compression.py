"""Lossless compression with the zoo (bits-back ANS) against the classical codecs.

    python -m benchmarks.compression                 # every entry below, all test images
    python -m benchmarks.compression --entries binarized_mnist_iwae --points 1000
    python -m benchmarks.compression --rebuild       # table and README from stored rows

Each zoo entry codes the test split of the data it models: statically
binarized MNIST (10,000 binary 28x28 images) for the Bernoulli MLP entries
(the `mnist_*` ones were trained on dynamically binarized MNIST, the same
digits binarized otherwise) and the 8-bit Fashion-MNIST test split for the
discretized logistic entries. A row holds the achieved bits/dim (the whole
stream: header, clean bits and checksum included), the clean bits, the
entry's -ELBO and K=5000 NLL on the same images in bits/dim (the rate's lower
references: bits-back ANS approaches -ELBO), and encode and decode speed; the
round trip is checked exactly before a row is stored. The classical codecs
(gzip, bz2, lzma at their strongest settings; PNG through Pillow with
`optimize=True`, one file per image and the whole set tiled as one image) code
the same arrays. Rows are stored per entry under
benchmarks/results/compression/, so a call for some entries keeps the others.
"""

import argparse
import bz2
import gzip
import io
import json
import lzma
import math
import sys
import time

DATASETS = {"binarized_mnist": "statically binarized MNIST", "fashion_mnist": "Fashion-MNIST (8-bit)"}
DEFAULT_ENTRIES = ("binarized_mnist_iwae", "mnist_vae", "mnist_iwae", "mnist_iwae_2layer",
                   "fashion_mnist_vae", "fashion_mnist_iwae")
BACKEND = "tensorflow"  # the fastest K=5000 evaluator here (benchmarks.throughput)
BB_ANS = 0.19  # Townsend et al. 2019, binarized MNIST, bits/dim


def dataset_of(entry):
    from keras_vae import zoo

    likelihood = zoo.read_metadata(entry)["recipe"]["likelihood"]
    return "binarized_mnist" if likelihood == "bernoulli" else "fashion_mnist"


def test_images(dataset, points=None):
    """The test split as the uint8 array the codecs and the models code."""
    from keras_vae import datasets

    x = datasets.load(dataset, "test")
    x = x[:points] if points else x
    return x.reshape(len(x), 784) if dataset == "binarized_mnist" else x.reshape(len(x), 28, 28, 1)


def worker(args):
    import numpy as np

    from keras_vae import compression, evaluation, zoo
    from keras_vae.compression import stream

    model = zoo.load(args.entry)
    model.compile()
    x = test_images(dataset_of(args.entry), args.points)
    start = time.perf_counter()
    data = compression.compress(model, x)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    y = compression.decompress(model, data)
    decode_s = time.perf_counter() - start
    if not (y.dtype == x.dtype and y.shape == x.shape and np.array_equal(y, x)):
        raise SystemExit(f"{args.entry}: the round trip is not exact")
    dims = x.size
    if args.num_samples:
        s = evaluation.summarize(model, x.astype("float32"), num_samples=args.num_samples)
    else:  # the NLL comes from benchmarks.loglik's stored record (see `_stored_nll`)
        bounds = model.evaluate(x.astype("float32"), batch_size=100, verbose=0, return_dict=True)
        s = {"elbo": -(bounds["log_px_z"] - bounds["kl"]), "nll": float("nan")}
    header, words = stream.unpack(data)
    print(json.dumps({
        "entry": args.entry, "dataset": dataset_of(args.entry), "points": len(x),
        "bytes": len(data), "bits_per_dim": len(data) * 8 / dims,
        "clean_bits": compression.clean_bits(data),
        # The coded images alone: no header, checksum or clean bits.
        "payload_bits_per_dim": (32 * len(words) - compression.clean_bits(data)) / dims,
        "header_bytes": len(json.dumps(header, sort_keys=True)) + 11 + 32,
        "elbo_bits_per_dim": s["elbo"] * len(x) / (dims * math.log(2)),
        "nll_bits_per_dim": s["nll"] * len(x) / (dims * math.log(2)),
        "nll_num_samples": args.num_samples, "encode_images_per_s": len(x) / encode_s,
        "decode_images_per_s": len(x) / decode_s, "coder": header["coder"],
        "backend": header["backend"], "weights_sha256": header["weights_sha256"]}))


def _stored_nll(row):
    """A stored K=5000 NLL of these images: this benchmark's earlier row for the same weights,
    else `benchmarks.loglik`'s reference record when it covers them (its shards hold the
    entry's own test split in order: the array coded here only when the entry models this
    dataset, not for the mnist_* entries on static binarization).
    """
    from benchmarks.common import RESULTS
    from benchmarks.loglik import FASTEST, combine_shards
    from keras_vae import zoo

    meta = zoo.read_metadata(row["entry"])
    # A row stored before for the same weights and images already has it.
    previous = RESULTS / "compression" / f"{row['entry']}.json"
    if previous.exists():
        from keras_vae import compression

        old = json.loads(previous.read_text())
        if (old.get("weights_sha256") == compression.weights_sha256(zoo.load(row["entry"]))
                and old["points"] == row["points"] and old["dataset"] == row["dataset"]
                and math.isfinite(old.get("nll_bits_per_dim", math.nan))):
            return old["nll_bits_per_dim"], old["nll_num_samples"], "an earlier row of this benchmark"
    path = RESULTS / "loglik" / f"{row['entry']}.{FASTEST}.json"
    if meta["recipe"]["dataset"] != row["dataset"] or not path.exists():
        return None
    record = json.loads(path.read_text())
    if record.get("method", {}).get("subset") or record.get("weights_sha256") != meta.get(
            "weights_sha256"):
        return None
    s = combine_shards(record, row["points"])
    if s is None or s["points"] != row["points"]:
        return None
    return s["bits_per_dim"], record["method"]["num_samples"], "benchmarks.loglik"


def _png(images, mode):
    from PIL import Image

    out = io.BytesIO()
    image = Image.fromarray(images)
    image = image.convert("1", dither=Image.Dither.NONE) if mode == "1" else image
    image.save(out, format="PNG", optimize=True)
    return len(out.getvalue())


def classical(dataset, points=None):
    """Bits/dim of the classical codecs on the same test images."""
    import numpy as np

    x = test_images(dataset, points)
    images = x.reshape(len(x), 28, 28)
    dims = x.size
    binary = dataset == "binarized_mnist"
    raw = x.astype(np.uint8).tobytes()
    rows = {}
    variants = {"bytes": raw}
    if binary:
        # One bit per pixel: what a byte codec of binary images should be given.
        variants["packed bits"] = np.packbits(x.astype(np.uint8), axis=None).tobytes()
    for label, payload in variants.items():
        rows[f"gzip -9 ({label})"] = len(gzip.compress(payload, 9))
        rows[f"bz2 -9 ({label})"] = len(bz2.compress(payload, 9))
        rows[f"lzma -9e ({label})"] = len(lzma.compress(payload, preset=9 | lzma.PRESET_EXTREME))
    mode = "1" if binary else "L"
    pixels = images * (255 if binary else 1)
    rows["PNG, one file per image"] = sum(_png(im.astype(np.uint8), mode) for im in pixels)
    side = math.ceil(math.sqrt(len(images)))
    grid = np.zeros((side * side, 28, 28), np.uint8)
    grid[:len(images)] = pixels
    tiled = grid.reshape(side, side, 28, 28).transpose(0, 2, 1, 3).reshape(side * 28, side * 28)
    rows["PNG, the set tiled as one image"] = _png(tiled, mode)
    return {codec: {"bytes": size, "bits_per_dim": size * 8 / dims} for codec, size in rows.items()}


def render(payload):
    from benchmarks.common import markdown_table

    lines = []
    for dataset, label in DATASETS.items():
        rows = [r for r in payload["rows"] if r["dataset"] == dataset]
        if not rows:
            continue
        codecs = payload["classical"][dataset]
        best_name = min(codecs, key=lambda c: codecs[c]["bits_per_dim"])
        best = codecs[best_name]["bits_per_dim"]
        table = []
        # A row coded with --num-samples 0 has no NLL yet (a K=5000 pass over a
        # convolutional entry's test split takes hours on a CPU).
        nll_k = max(r["nll_num_samples"] for r in rows)
        for r in sorted(rows, key=lambda r: r["bits_per_dim"]):
            table.append({
                "codec": f"bits-back ANS, `{r['entry']}`", "bits/dim": f"{r['bits_per_dim']:.4f}",
                "payload bits/dim (vs -ELBO)":
                    f"{r['payload_bits_per_dim']:.4f} "
                    f"({100 * (r['payload_bits_per_dim'] / r['elbo_bits_per_dim'] - 1):+.2f} %)",
                "-ELBO": f"{r['elbo_bits_per_dim']:.4f}",
                f"NLL (K={nll_k})": (f"{r['nll_bits_per_dim']:.4f}"
                                     if math.isfinite(r["nll_bits_per_dim"]) else "not measured"),
                "clean bits": f"{r['clean_bits']} ({r['clean_bits'] / (r['points'] * 784):.5f}/dim)",
                "vs best classical": f"{100 * (r['bits_per_dim'] / best - 1):+.1f} %",
                "encode / decode images/s": f"{r['encode_images_per_s']:.0f} / "
                                            f"{r['decode_images_per_s']:.0f}"})
        for name, c in sorted(codecs.items(), key=lambda kv: kv[1]["bits_per_dim"]):
            table.append({"codec": name, "bits/dim": f"{c['bits_per_dim']:.4f}",
                          "vs best classical": f"{100 * (c['bits_per_dim'] / best - 1):+.1f} %"})
        points = {r["points"] for r in rows}
        lines += [f"**{label}**, test split ({', '.join(map(str, sorted(points)))} images; "
                  f"best classical codec: {best_name})"
                  + (f"; BB-ANS (Townsend et al. 2019) reported {BB_ANS} bits/dim on binarized "
                     "MNIST:" if dataset == "binarized_mnist" else ":"), "",
                  markdown_table(table, list(table[0])), ""]
    env = payload["environment"]
    if any(not math.isfinite(r["nll_bits_per_dim"]) for r in payload["rows"]):
        lines.append("NLL not measured: these weights were coded without their K=5000 pass over "
                     "the split (`--num-samples 0`); `--reuse-nll` fills it in from "
                     "`benchmarks.loglik` once its record covers the whole split.\n")
    lines.append(f"bits/dim: whole streams (header, clean bits and checksum included) over all "
                 f"the images' pixels; payload: the coded images alone; -ELBO and NLL are the entry's on the same images, in "
                 f"bits/dim. Backend {payload['backend']}, {env['device']}, commit "
                 f"{env['commit']}, {env['date']}. Command: `python -m {' '.join(env['argv'])}`")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", nargs="+", help=f"default: {' '.join(DEFAULT_ENTRIES)}")
    parser.add_argument("--points", type=int, help="first N test images (default: all 10,000)")
    parser.add_argument("--num-samples", type=int, default=5000,
                        help="K of the NLL column (0: no NLL, shown as not measured)")
    parser.add_argument("--backend", default=BACKEND, help=f"default: {BACKEND}")
    parser.add_argument("--reuse-nll", action="store_true",
                        help="take the NLL column from a stored evaluation of the same images "
                             "(an earlier row, or benchmarks.loglik's record) instead of "
                             "computing it again")
    parser.add_argument("--rebuild", action="store_true",
                        help="no coding: the table and README from the stored rows")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--entry", help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    from benchmarks.common import RESULTS, environment, run_worker, update_readme, write_results

    store = RESULTS / "compression"
    store.mkdir(parents=True, exist_ok=True)
    for entry in ([] if args.rebuild else args.entries or DEFAULT_ENTRIES):
        print(f"{entry}: coding the test split on {args.backend}", flush=True)
        stored = None
        if args.reuse_nll:
            probe = {"entry": entry, "dataset": dataset_of(entry),
                     "points": args.points or len(test_images(dataset_of(entry)))}
            stored = _stored_nll(probe)
        row = run_worker("benchmarks.compression", [
            "--worker", "--entry", entry, "--num-samples", "0" if stored else str(args.num_samples)]
            + (["--points", str(args.points)] if args.points else []),
            {"KERAS_BACKEND": args.backend}, timeout=4 * 3600)
        if stored:
            row["nll_bits_per_dim"], row["nll_num_samples"], row["nll_source"] = stored
        (store / f"{entry}.json").write_text(json.dumps(row, indent=1) + "\n")
    rows = [json.loads(p.read_text()) for p in sorted(store.glob("*.json"))]
    points = {r["dataset"]: r["points"] for r in rows}
    payload = {"environment": environment(["benchmarks.compression", *argv]),
               "backend": args.backend, "rows": rows,
               "classical": {d: classical(d, points[d]) for d in DATASETS if d in points}}
    markdown = render(payload)
    write_results("compression", payload, markdown)
    print(markdown)
    if not args.no_readme and not update_readme("compression", markdown):
        print("README has no compression block; table written to benchmarks/results only")


if __name__ == "__main__":
    main()
