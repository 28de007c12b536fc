#!/usr/bin/env python3
"""A real-data instance: scikit-learn's handwritten digits (1,797 8x8 images, shipped inside the scikit-learn
wheel: no download) as multinomial logistic regression on fixed features, which is exactly the paper's softmax
model with only the output projection trained (Remark 3.1).

Construction (deterministic: everything follows from --seed):
  * x = pixels / 16 (64 values in [0, 1]), divided by the largest ||x|| over all 1,797 images, so ||x|| <= 1.
  * phi(x, y) = e_y (x) x in R^640 (d = 10 * 64, K = 10 outputs): coordinates y*64 .. y*64+63 hold x, the rest
    are 0, so theta read as a 10 x 64 matrix has one row of weights per digit and theta . phi(x, y) = theta[y] . x.
    ||phi|| = ||x|| <= 1 = featureBound.
  * The images are shuffled with numpy's default_rng(seed) and split into an SFT part (--sft images), a DPO
    part (--dpo images) and a held-out part (the rest; --heldout caps it).
  * SFT: each SFT image with its true label as target.
  * DPO: a "second annotator" who systematically confuses the --swaps most confusable pairs of digits (pairs of
    class means, computed on the SFT part, closest in Euclidean distance, taken greedily and disjointly; with
    seed 0 and the default sizes: 1<->8 and 3<->9). For an image of a swapped class y the annotator prefers its
    partner A(y) to the true label (chosen A(y), rejected y): this conflicts with SFT's labels. For every other
    image the annotator is right: chosen y, rejected the most confusable wrong label for that image (the wrong
    label whose SFT class mean is nearest to x).
  * reference theta_ref = 0 (the uniform policy); the methods start there. --weight-decay mu adds mu/2 ||theta||^2
    to both objectives: the digits are linearly separable, so without it neither optimum is attained.
  * beta = --beta.

Writes OUT/ as an .npy instance directory (instance.json, dpo_features.npy [N,10,640], dpo_chosen.npy,
dpo_rejected.npy, sft_features.npy [M,10,640], sft_targets.npy), plus the held-out part for plot scripts:
  heldout_inputs.npy   float64 [H, 64]  the scaled images x (phi(x, y) = e_y (x) x)
  heldout_labels.npy   int64 [H]        true labels
  heldout_chosen.npy   int64 [H]        the annotator's chosen label (built as for the DPO part)
  heldout_rejected.npy int64 [H]        the annotator's rejected label
  digits.json          the construction's parameters (seed, sizes, scale, swapped pairs)
and removes any other file in OUT it wrote before. Files are written to a staging directory that replaces OUT
whole.

Usage: python Experiments/data/digits.py [--out DIR] [--seed S] [--sft M] [--dpo N] [--heldout H]
       [--swaps P] [--beta B] [--weight-decay MU]
Default DIR: Experiments/data/digits (beside this script; Experiments/digits.yaml reads it there).
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np

CLASSES = 10
PIXELS = 64
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "digits")


def load_images():
    """The 1,797 digits as (x scaled to ||x|| <= 1, labels, scale) from the copy inside scikit-learn."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.data.astype(np.float64) / 16.0
    scale = float(np.linalg.norm(x, axis=1).max())
    return x / scale, data.target.astype(np.int64), scale


def features(x):
    """phi(x, y) = e_y (x) x for every y: [n, 10, 640]."""
    n = x.shape[0]
    phi = np.zeros((n, CLASSES, CLASSES * PIXELS))
    for y in range(CLASSES):
        phi[:, y, y * PIXELS:(y + 1) * PIXELS] = x
    return phi


def swapped_pairs(means, count):
    """The `count` closest pairs of class means, taken greedily without reusing a class."""
    distances = ((means[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    pairs, used = [], set()
    for flat in np.argsort(distances, axis=None, kind="stable"):
        a, b = divmod(int(flat), CLASSES)
        if a < b and a not in used and b not in used:
            pairs.append((a, b))
            used |= {a, b}
            if len(pairs) == count:
                break
    return pairs


def annotate(x, labels, means, annotator):
    """The annotator's (chosen, rejected) label for each image."""
    chosen = annotator[labels]
    squared = ((x[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    squared[np.arange(len(labels)), labels] = np.inf
    confusable = squared.argmin(1)
    swapped = chosen != labels
    rejected = np.where(swapped, labels, confusable)
    return chosen.astype(np.int64), rejected.astype(np.int64)


def build(seed=0, sft=600, dpo=600, heldout=None, swaps=2, beta=1.0, weight_decay=1e-3):
    x, labels, scale = load_images()
    if sft < 1 or dpo < 1 or sft + dpo >= len(labels):
        raise ValueError(f"--sft and --dpo must be >= 1 and leave held-out images (there are {len(labels)})")
    if not 0 <= swaps <= CLASSES // 2:
        raise ValueError(f"--swaps must be in 0..{CLASSES // 2}")
    order = np.random.default_rng(seed).permutation(len(labels))
    parts = {"sft": order[:sft], "dpo": order[sft:sft + dpo], "heldout": order[sft + dpo:]}
    if heldout is not None:
        if heldout < 1:
            raise ValueError("--heldout must be >= 1")
        parts["heldout"] = parts["heldout"][:heldout]
    sft_x, sft_y = x[parts["sft"]], labels[parts["sft"]]
    if len(np.unique(sft_y)) < CLASSES:
        raise ValueError("the SFT part must hold every digit (raise --sft)")
    means = np.stack([sft_x[sft_y == c].mean(0) for c in range(CLASSES)])
    pairs = swapped_pairs(means, swaps)
    annotator = np.arange(CLASSES)
    for a, b in pairs:
        annotator[a], annotator[b] = b, a
    dpo_x, dpo_y = x[parts["dpo"]], labels[parts["dpo"]]
    dpo_chosen, dpo_rejected = annotate(dpo_x, dpo_y, means, annotator)
    held_x, held_y = x[parts["heldout"]], labels[parts["heldout"]]
    held_chosen, held_rejected = annotate(held_x, held_y, means, annotator)
    name = f"digits-seed{seed}-sft{sft}-dpo{dpo}-swaps{swaps}"
    scalars = {"name": name, "featureBound": 1.0, "beta": beta, "weightDecay": weight_decay,
               "reference": {"theta": [0.0] * (CLASSES * PIXELS)}}
    arrays = {
        "dpo_features": features(dpo_x), "dpo_chosen": dpo_chosen, "dpo_rejected": dpo_rejected,
        "sft_features": features(sft_x), "sft_targets": sft_y,
        "heldout_inputs": held_x, "heldout_labels": held_y,
        "heldout_chosen": held_chosen, "heldout_rejected": held_rejected,
    }
    info = {"name": name, "seed": seed, "sft": int(sft), "dpo": int(dpo), "heldout": int(len(held_y)),
            "beta": beta, "weightDecay": weight_decay,
            "pixelScale": 16.0, "normScale": scale, "swappedPairs": [list(p) for p in pairs],
            "annotator": annotator.tolist(), "conflictingDPOPairs": int((dpo_chosen != dpo_y).sum()),
            "layout": "phi(x, y)[y*64 + j] = x[j]; theta.reshape(10, 64)[y] is digit y's weights"}
    return scalars, arrays, info


def write(out, scalars, arrays, info):
    """Writes everything to a staging directory beside OUT, which then replaces OUT whole."""
    out = os.path.abspath(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".{os.path.basename(out)}.{os.getpid()}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    try:
        for key, array in arrays.items():
            np.save(os.path.join(staging, key + ".npy"), array)
        with open(os.path.join(staging, "instance.json"), "w") as f:
            json.dump(scalars, f)
            f.write("\n")
        with open(os.path.join(staging, "digits.json"), "w") as f:
            json.dump(info, f, indent=2)
            f.write("\n")
        if os.path.lexists(out):
            if os.path.islink(out) or not os.path.isdir(out):
                raise ValueError(f"{out} exists and is not a directory")
            old = staging + ".old"
            os.rename(out, old)
            os.rename(staging, out)
            shutil.rmtree(old)
        else:
            os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sft", type=int, default=600)
    parser.add_argument("--dpo", type=int, default=600)
    parser.add_argument("--heldout", type=int, default=None)
    parser.add_argument("--swaps", type=int, default=2)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--weight-decay", type=float, default=1e-3)
    args = parser.parse_args(argv)
    try:
        if args.seed < 0:
            raise ValueError("--seed must be >= 0")
        if args.beta <= 0 or args.weight_decay < 0:
            raise ValueError("--beta must be > 0 and --weight-decay >= 0")
        scalars, arrays, info = build(args.seed, args.sft, args.dpo, args.heldout, args.swaps, args.beta, args.weight_decay)
        write(args.out, scalars, arrays, info)
    except (ValueError, OSError) as error:
        sys.exit(f"digits.py: {error}")
    print(f"wrote {args.out}: {info['name']}, SFT {info['sft']}, DPO {info['dpo']} "
          f"({info['conflictingDPOPairs']} prefer the swapped label), held-out {info['heldout']}, "
          f"swapped pairs {info['swappedPairs']}")


if __name__ == "__main__":
    main()
