#!/usr/bin/env python3
"""Theorem 4.1: ALRIGHT's mean gap with its 95% band against T, under both explicit bounds (log-log).

Usage: python3 Plots/theorem41.py SWEEP_DIR BOUNDS_CSV
  SWEEP_DIR   from `forgetting sweep Experiments/theorem41.yaml --out SWEEP_DIR` (final gaps per seed)
  BOUNDS_CSV  from `forgetting verify theorem41 --csv BOUNDS_CSV` (D, M and alpha0 per instance and lambda)
Writes SWEEP_DIR/theorem41.png and .pdf.
"""
import math
import os
import sys
from collections import defaultdict

from common import plt, read, save


def bound(T, d, m, alpha0):
    return (d * d / (2 * alpha0) + 1.5 * alpha0 * m * (1 + math.log(T))) / math.sqrt(T)


def main(directory, bounds_path):
    summary = read(f"{directory}/summary.csv")
    bounds = read(bounds_path)
    constants = {}
    for b in bounds:
        constants[(b["instance"], float(b["lambda"]))] = (float(b["distance"]), float(b["paper_m"]), float(b["tight_m"]), float(b["alpha0"]))
    gaps = defaultdict(list)
    for r in summary:
        name = os.path.splitext(os.path.basename(r["instance"]))[0]
        gaps[(name, float(r["lambda"]), int(r["steps"]))].append(float(r["gap_mix"]))
    # Instance names in the bounds CSV are the instances' own names; the sweep has file names: match by order.
    files = sorted({k[0] for k in gaps}, key=lambda n: [os.path.splitext(os.path.basename(r["instance"]))[0] for r in summary].index(n))
    names = list(dict.fromkeys(b["instance"] for b in bounds))
    lambdas = sorted({k[1] for k in gaps})
    fig, axes = plt.subplots(len(files), len(lambdas), figsize=(4.6 * len(lambdas), 3.6 * len(files)), squeeze=False)
    for i, (file, name) in enumerate(zip(files, names)):
        for j, lam in enumerate(lambdas):
            ax = axes[i][j]
            horizons = sorted({k[2] for k in gaps if k[0] == file and k[1] == lam})
            means, lows, highs = [], [], []
            for T in horizons:
                values = gaps[(file, lam, T)]
                n = len(values)
                mean = sum(values) / n
                sd = math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, n - 1))
                means.append(max(mean, 1e-16))
                lows.append(max(mean - 1.96 * sd / math.sqrt(n), 1e-16))
                highs.append(mean + 1.96 * sd / math.sqrt(n))
            # The sweep's T counts updates; the theorem's theta_T follows T - 1 updates: plot at T + 1.
            xs = [T + 1 for T in horizons]
            ax.fill_between(xs, lows, highs, color="tab:green", alpha=0.25, label="95% interval")
            ax.plot(xs, means, "o-", color="tab:green", ms=3, label=f"ALRIGHT mean gap ({len(gaps[(file, lam, horizons[0])])} seeds)")
            if (name, lam) in constants:
                d, paper_m, tight_m, alpha0 = constants[(name, lam)]
                grid = [10 ** (k / 20) for k in range(20, 20 * 6 + 1)]
                ax.plot(grid, [bound(T, d, paper_m, alpha0) for T in grid], "k-", lw=1.2, label="bound, paper M (Prop. A.1)")
                ax.plot(grid, [bound(T, d, tight_m, alpha0) for T in grid], "k--", lw=1.2, label="bound, instance-tight M")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
            ax.set_title(f"{name}, $\\lambda$ = {lam:g}", fontsize=9)
            if i == len(files) - 1:
                ax.set_xlabel("T")
            if j == 0:
                ax.set_ylabel(r"$E[G_{mix,\lambda}(\theta_T)]$")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(r"Theorem 4.1: ALRIGHT with $\alpha_t = \alpha_0/\sqrt{t}$ under $(D^2/(2\alpha_0) + 1.5\,\alpha_0 M (1 + \ln T))/\sqrt{T}$")
    fig.tight_layout()
    print("wrote", save(fig, directory, "theorem41"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
