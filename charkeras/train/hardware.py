"""A one-line description of the machine, recorded in run.json and model cards."""

from __future__ import annotations

import os
import platform

import tensorflow as tf

from charkeras.machine import cpu_name


def hardware_description() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    devices = f"{len(gpus)} GPU(s)" if gpus else "CPU only"
    return f"{cpu_name()} ({platform.machine()}, {os.cpu_count()} cores), {devices}, TensorFlow {tf.__version__}"
