"""Argument checks shared by layers, models and evaluation.

Messages follow Keras: "Expected `name` ... Received: name=value".
"""

import numbers

import numpy as np


def check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral,)):
        raise ValueError(f"Expected `{name}` to be a positive integer. Received: {name}={value!r}")
    if value < 1:
        raise ValueError(f"Expected `{name}` >= 1. Received: {name}={value!r}")
    return int(value)


def check_num_samples(value, name="num_samples"):
    return check_positive_int(value, name)


def check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"Expected `{name}` to be a finite number. Received: {name}={value!r}")
    if value <= 0:
        raise ValueError(f"Expected `{name}` > 0. Received: {name}={value!r}")
    return float(value)
