#!/usr/bin/env python3
"""Real data (Figure 3 analogue on scikit-learn's digits): the Pareto front with each method's final points,
forgetting along Sequential's trajectories, and held-out accuracy per method.

Usage: python3 Plots/digits.py SWEEP_DIR FRONT_CSV [INSTANCE_DIR]
  SWEEP_DIR     from `forgetting sweep Experiments/digits.yaml --out SWEEP_DIR`
  FRONT_CSV     from `forgetting front --instance Experiments/data/digits --points 21 --out FRONT_CSV`
  INSTANCE_DIR  the directory Experiments/data/digits.py wrote (default: summary.csv's instance column); its
                heldout_*.npy files give the held-out images and labels
Writes SWEEP_DIR/digits.png and .pdf, and prints the held-out accuracies.

Held-out accuracy is computed here from the final theta columns of summary.csv: theta read as a 10 x 64 matrix
W (phi(x, y) = e_y (x) x), the prediction for image x is argmax_y W[y] . x. "Agreement" is the fraction of
held-out images on which the model scores the annotator's chosen label above its rejected one (the DPO side).
"""
import json
import os
import sys
from collections import defaultdict

import numpy as np

from common import plt, read, save

COLOURS = {"sequential": "tab:red", "sequential-sft-first": "tab:orange", "mix": "tab:gray",
           "alright": "tab:green", "maxright": "tab:purple"}
NAMES = {"sequential": "Sequential (DPO, then SFT)", "sequential-sft-first": "Sequential (SFT, then DPO)",
         "mix": "Mix", "alright": "ALRIGHT", "maxright": "MAXRIGHT"}
MARKERS = {"sequential": "s", "sequential-sft-first": "D", "mix": "o", "alright": "^", "maxright": "v"}


def thetas(rows):
    columns = sorted((k for k in rows[0] if k.startswith("theta_")), key=lambda k: int(k[6:]))
    return np.array([[float(r[k]) for k in columns] for r in rows])


def heldout_scores(theta, inputs):
    """Scores [runs, H, 10]: theta . phi(x, y) = W[y] . x."""
    weights = theta.reshape(len(theta), 10, inputs.shape[1])
    return np.einsum("rkj,hj->rhk", weights, inputs)


def accuracies(theta, held):
    scores = heldout_scores(theta, held["inputs"])
    h = np.arange(len(held["labels"]))
    accuracy = (scores.argmax(-1) == held["labels"]).mean(-1)
    agreement = (scores[:, h, held["chosen"]] > scores[:, h, held["rejected"]]).mean(-1)
    return accuracy, agreement


def main(directory, front_path, instance=None):
    summary = read(os.path.join(directory, "summary.csv"))
    instance = instance or summary[0]["instance"]
    held = {k: np.load(os.path.join(instance, f"heldout_{k}.npy")) for k in ("inputs", "labels", "chosen", "rejected")}
    front = read(front_path)
    front_lambda = np.array([float(p["lambda"]) for p in front])
    front_accuracy, front_agreement = accuracies(thetas(front), held)

    by_method = defaultdict(list)
    for r in summary:
        by_method[r["method"]].append(r)
    methods = [m for m in COLOURS if m in by_method] + [m for m in by_method if m not in COLOURS]
    results = {}
    for m in methods:
        rows = sorted(by_method[m], key=lambda r: float(r["lambda"]))
        accuracy, agreement = accuracies(thetas(rows), held)
        results[m] = (rows, accuracy, agreement)

    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    (pareto, forgetting), (acc_ax, agree_ax) = axes

    # (a) the exact front and each method's final points.
    pareto.plot([float(p["f_dpo"]) for p in front], [float(p["f_sft"]) for p in front], "k--", lw=1,
                label="exact Pareto front")
    ideal = (min(float(p["f_dpo"]) for p in front), min(float(p["f_sft"]) for p in front))
    pareto.plot(*ideal, marker="P", color="gold", mec="k", ms=13, ls="none", label="ideal point")
    for m in methods:
        rows = results[m][0]
        pareto.plot([float(r["f_dpo"]) for r in rows], [float(r["f_sft"]) for r in rows], marker=MARKERS.get(m, "o"),
                    color=COLOURS.get(m), ls="-", lw=1, ms=6, label=NAMES.get(m, m))
        for r in rows:
            pareto.annotate(f"{float(r['lambda']):g}", (float(r["f_dpo"]), float(r["f_sft"])), fontsize=7,
                            xytext=(4, 2), textcoords="offset points", color=COLOURS.get(m))
    pareto.set_xlabel(r"$f_{DPO}$ (second annotator's preferences)")
    pareto.set_ylabel(r"$f_{SFT}$ (true labels)")
    pareto.set_title(r"(a) final losses after T steps ($\lambda$ beside each point)")
    pareto.grid(alpha=0.3)
    pareto.legend(fontsize=8)

    # (b) forgetting: Sequential's first objective's gap along its trajectory, at the lambda nearest 0.5.
    trajectories = read(os.path.join(directory, "trajectories.csv"))
    lambdas = sorted({float(r["lambda"]) for r in summary})
    middle = min(lambdas, key=lambda v: abs(v - 0.5))
    by_run = defaultdict(list)
    for row in trajectories:
        by_run[row["run_id"]].append(row)
    floor = 1e-6
    for r in summary:
        if float(r["lambda"]) != middle or r["method"] not in ("sequential", "sequential-sft-first", "alright"):
            continue
        rows = by_run[r["run_id"]]
        steps = [int(x["step"]) for x in rows]
        colour = COLOURS[r["method"]]
        name = NAMES[r["method"]]
        first, second = ("sft", "dpo") if r["method"] == "sequential-sft-first" else ("dpo", "sft")
        if r["method"] == "alright":
            for objective, style in (("dpo", "-"), ("sft", ":")):
                forgetting.plot(steps, [max(float(x[f"gap_{objective}"]), floor) for x in rows], style, color=colour,
                                lw=1.2, label=f"{name}: gap of f_{objective.upper()}")
            continue
        forgetting.plot(steps, [max(float(x[f"gap_{first}"]), floor) for x in rows], "-", color=colour, lw=2,
                        label=f"{name}: gap of f_{first.upper()} (its first objective)")
        forgetting.plot(steps, [max(float(x[f"gap_{second}"]), floor) for x in rows], ":", color=colour, lw=1.2,
                        label=f"{name}: gap of f_{second.upper()}")
        switch = int(r[f"{first}_steps"])
        forgetting.axvline(switch, color=colour, lw=0.8, alpha=0.6)
    forgetting.set_yscale("log")
    forgetting.set_xlabel("step")
    forgetting.set_ylabel(r"$f - f^*$ (exact optimum; floored at $10^{-6}$)")
    forgetting.set_title(f"(b) forgetting at $\\lambda$ = {middle:g}: the first objective's gap\n"
                         "rises after Sequential's switch (vertical line)")
    forgetting.set_ylim(1e-5, None)
    forgetting.grid(alpha=0.3, which="both")
    forgetting.legend(fontsize=7, loc="lower left")

    # (c), (d) held-out accuracy and agreement per method over lambda, against the front's minimizers.
    for ax, index, what in ((acc_ax, 1, "accuracy on true labels"), (agree_ax, 2, "agreement with the annotator's preference")):
        reference = front_accuracy if index == 1 else front_agreement
        ax.plot(front_lambda, reference, "k--", lw=1, label=r"minimizer of $f_{mix,\lambda}$ (front)")
        for m in methods:
            rows = results[m][0]
            ax.plot([float(r["lambda"]) for r in rows], results[m][index], marker=MARKERS.get(m, "o"), color=COLOURS.get(m),
                    lw=1, label=NAMES.get(m, m))
        ax.set_xlabel(r"$\lambda$ (weight of DPO)")
        ax.set_ylabel(f"held-out {what}")
        ax.set_title(f"({'c' if index == 1 else 'd'}) held-out {what} ({len(held['labels'])} images)")
        ax.title.set_fontsize(10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    with open(os.path.join(instance, "digits.json")) as f:
        info = json.load(f)
    swaps = " and ".join(f"{a}<->{b}" for a, b in info["swappedPairs"]) or "nothing"
    fig.suptitle(f"Real data: scikit-learn digits (d = 640, K = 10, weight decay {info.get('weightDecay', '?')})\n"
                 f"SFT on {info['sft']} true labels vs DPO on {info['dpo']} pairs from an annotator who swaps {swaps}")
    fig.tight_layout()
    print("wrote", save(fig, directory, "digits"))

    print(f"{'method':22s} {'lambda':>6s} {'f_dpo':>8s} {'f_sft':>8s} {'gap_dpo':>8s} {'gap_sft':>8s} {'gap_mix':>9s} "
          f"{'accuracy':>8s} {'agreement':>9s} {'seconds':>8s}")
    for m in methods:
        rows, accuracy, agreement = results[m]
        for r, a, g in zip(rows, accuracy, agreement):
            print(f"{m:22s} {float(r['lambda']):6g} {float(r['f_dpo']):8.4f} {float(r['f_sft']):8.4f} "
                  f"{float(r['gap_dpo']):8.4f} {float(r['gap_sft']):8.4f} {float(r['gap_mix']):9.2e} {a:8.3f} {g:9.3f} "
                  f"{float(r['wall_seconds']):8.2f}")
    for lam, a, g in zip(front_lambda, front_accuracy, front_agreement):
        if lam in (0.0, 1.0) or any(abs(lam - v) < 1e-12 for v in lambdas):
            print(f"{'front':22s} {lam:6g} {'':8s} {'':8s} {'':8s} {'':8s} {'':9s} {a:8.3f} {g:9.3f}")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(*sys.argv[1:])
