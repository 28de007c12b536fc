#!/usr/bin/env python3
"""Theorem 4.1: ALRIGHT's mean gap with its 95% band against T, under both explicit bounds (log-log).

Usage: python3 Plots/theorem41.py SWEEP_DIR BOUNDS_CSV
  SWEEP_DIR   from `forgetting sweep Experiments/theorem41.yaml --out SWEEP_DIR` (final gaps per seed)
  BOUNDS_CSV  from `forgetting verify theorem41 --csv BOUNDS_CSV` (D, M and alpha0 per instance and lambda)
Writes SWEEP_DIR/theorem41.png and .pdf.

Runs and bounds are joined by instance name: summary.csv's instance_name (the instance's own "name") against
the bounds' instance column. Summaries without instance_name (older sweeps) fall back to the file stem of
their instance column, with a warning. An instance on one side only is an error.
"""
import math
import os
import sys
from collections import defaultdict

from common import plt, read, save


def bound(T, d, m, alpha0):
    return (d * d / (2 * alpha0) + 1.5 * alpha0 * m * (1 + math.log(T))) / math.sqrt(T)


def main(directory, bounds_path):
    summary_path = f"{directory}/summary.csv"
    summary = read(summary_path)
    bounds = read(bounds_path)
    if not summary:
        sys.exit(f"theorem41.py: {summary_path} has no runs")
    constants = {}
    exact = defaultdict(list)
    asymptotic = defaultdict(list)
    for b in bounds:
        key = (b["instance"], float(b["lambda"]))
        constants[key] = (float(b["distance"]), float(b["paper_m"]), float(b["tight_m"]), float(b["alpha0"]))
        # Newer CSVs: the exact expectation (one-dimensional instances) and the asymptotic prediction per horizon.
        if b.get("exact_gap"):
            exact[key].append((int(b["horizon"]), float(b["exact_gap"])))
        if b.get("asymptotic_gap"):
            asymptotic[key].append((int(b["horizon"]), float(b["asymptotic_gap"])))
    # Join on the instance's own name (the bounds' instance column). Older sweeps have no instance_name column:
    # then the file stem of the instance path stands in, which matches only where file and name agree.
    stems = [r for r in summary if not r.get("instance_name")]
    if stems:
        reason = "has no instance_name column" if "instance_name" not in summary[0] else f"has {len(stems)} runs without an instance_name"
        print(f"theorem41.py: warning: {summary_path} {reason} (an older sweep?); matching those runs to {bounds_path} "
              "by the file stem of their instance path instead", file=sys.stderr)
    gaps = defaultdict(list)
    files = {}
    for r in summary:
        name = r.get("instance_name") or os.path.splitext(os.path.basename(r["instance"]))[0]
        if files.setdefault(name, r["instance"]) != r["instance"]:
            sys.exit(f"theorem41.py: instance {name!r} names two instance files in {summary_path}: {files[name]} and {r['instance']}")
        gaps[(name, float(r["lambda"]), int(r["steps"]))].append(float(r["gap_mix"]))
    names = list(files)  # in sweep order
    bounded = list(dict.fromkeys(b["instance"] for b in bounds))
    for name in names:
        if name not in bounded:
            hint = " (the file stem stands in for instance_name: re-run the sweep for instance names)" if stems else ""
            sys.exit(f"theorem41.py: instance {name!r} ({files[name]}) of {summary_path} has no row in {bounds_path}, "
                     f"which has {', '.join(bounded) or 'no instances'}{hint}")
    for name in bounded:
        if name not in files:
            sys.exit(f"theorem41.py: instance {name!r} of {bounds_path} has no runs in {summary_path}, which has {', '.join(names)}")
    lambdas = sorted({k[1] for k in gaps})
    fig, axes = plt.subplots(len(names), len(lambdas), figsize=(4.6 * len(lambdas), 3.6 * len(names)), squeeze=False)
    for i, name in enumerate(names):
        for j, lam in enumerate(lambdas):
            ax = axes[i][j]
            horizons = sorted({k[2] for k in gaps if k[0] == name and k[1] == lam})
            means, lows, highs = [], [], []
            for T in horizons:
                values = gaps[(name, lam, T)]
                n = len(values)
                mean = sum(values) / n
                sd = math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, n - 1))
                means.append(max(mean, 1e-16))
                lows.append(max(mean - 1.96 * sd / math.sqrt(n), 1e-16))
                highs.append(mean + 1.96 * sd / math.sqrt(n))
            # The sweep's T counts updates; the theorem's theta_T follows T - 1 updates: plot at T + 1.
            xs = [T + 1 for T in horizons]
            ax.fill_between(xs, lows, highs, color="tab:green", alpha=0.25, label="95% interval")
            ax.plot(xs, means, "o-", color="tab:green", ms=3, label=f"ALRIGHT mean gap ({len(gaps[(name, lam, horizons[0])])} seeds)")
            if (name, lam) in constants:
                d, paper_m, tight_m, alpha0 = constants[(name, lam)]
                grid = [10 ** (k / 20) for k in range(20, 20 * 6 + 1)]
                ax.plot(grid, [bound(T, d, paper_m, alpha0) for T in grid], "k-", lw=1.2, label="bound, paper M (Prop. A.1)")
                ax.plot(grid, [bound(T, d, tight_m, alpha0) for T in grid], "k--", lw=1.2, label="bound, instance-tight M")
            if asymptotic[(name, lam)]:
                points = sorted(asymptotic[(name, lam)])
                ax.plot([p[0] for p in points], [p[1] for p in points], ":", color="tab:blue", lw=1.4,
                        label=r"asymptotic $\alpha_T\,tr(\Sigma^*)/4$")
            if exact[(name, lam)]:
                points = sorted(exact[(name, lam)])
                ax.plot([p[0] for p in points], [p[1] for p in points], "x", color="tab:red", ms=7, label="exact E[G] (1-D instance)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
            ax.set_title(f"{name}, $\\lambda$ = {lam:g}", fontsize=9)
            if i == len(names) - 1:
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
