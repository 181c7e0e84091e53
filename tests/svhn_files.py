"""Tiny SVHN files in the official layout (MATLAB v5, X of shape (32, 32, 3, n))."""

import hashlib

import numpy as np


def write_svhn(path, images):
    """Writes uint8 `images` (n, 32, 32, 3) as an official-layout `.mat`; returns its md5."""
    from scipy import io

    path.parent.mkdir(parents=True, exist_ok=True)
    labels = np.arange(1, len(images) + 1, dtype=np.uint8)[:, None] % 10 + 1
    io.savemat(path, {"X": np.transpose(images, (1, 2, 3, 0)), "y": labels})
    return hashlib.md5(path.read_bytes()).hexdigest()
