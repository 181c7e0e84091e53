"""Every array of a Keras weights file, for bit-for-bit comparisons of checkpoints."""

import h5py
import numpy as np


def checkpoint_arrays(path):
    """{dataset path: array} of an .h5 weights file (weights, optimizer moments, seed state)."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, np.array(obj))
                     if isinstance(obj, h5py.Dataset) else None)
    return out
