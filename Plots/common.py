"""Shared helpers for the plotting scripts: CSV reading and atomic PNG + PDF output."""
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402,F401


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def save(fig, directory, stem):
    """Write DIR/stem.png and DIR/stem.pdf through temporary names (never a half-written figure)."""
    for extension in ("png", "pdf"):
        target = os.path.join(directory, f"{stem}.{extension}")
        temporary = os.path.join(directory, f".{stem}.{os.getpid()}.{extension}")
        fig.savefig(temporary, dpi=130)
        os.replace(temporary, target)
    return os.path.join(directory, f"{stem}.png")
