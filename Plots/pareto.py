#!/usr/bin/env python3
"""The Figure 3 analogue: final (f_DPO, f_SFT) per method over lambda against the exact Pareto front, and
ideal distance and cost relative to Sequential (to the cheapest method when the sweep has no Sequential run).

Usage: python3 Plots/pareto.py SWEEP_DIR FRONT_CSV
  SWEEP_DIR  from `forgetting sweep Experiments/pareto.yaml --out SWEEP_DIR`
  FRONT_CSV  from `forgetting front --instance Experiments/instances/overparameterized.json --out FRONT_CSV`
Writes SWEEP_DIR/pareto.png and .pdf.
"""
import sys
from collections import defaultdict

from common import plt, read, save

COLOURS = {"sequential": "tab:red", "mix": "tab:gray", "alright": "tab:green", "maxright": "tab:purple"}
NAMES = {"sequential": "Sequential", "mix": "Mix", "alright": "ALRIGHT", "maxright": "MAXRIGHT"}


def main(directory, front_path):
    summary = read(f"{directory}/summary.csv")
    front = read(front_path)
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1.25, 1]})
    ax.plot([float(p["f_dpo"]) for p in front], [float(p["f_sft"]) for p in front], "k--", lw=1, label="exact Pareto front")
    ideal = (min(float(p["f_dpo"]) for p in front), min(float(p["f_sft"]) for p in front))
    ax.plot(*ideal, marker="P", color="gold", mec="k", ms=12, ls="none", label="ideal point")
    by_method = defaultdict(list)
    for r in summary:
        by_method[r["method"]].append(r)
    for method, rows in by_method.items():
        rows.sort(key=lambda r: float(r["lambda"]))
        ax.plot([float(r["f_dpo"]) for r in rows], [float(r["f_sft"]) for r in rows], "o-", color=COLOURS.get(method), label=method)
        for r in rows:
            ax.annotate(f"{float(r['lambda']):g}", (float(r["f_dpo"]), float(r["f_sft"])), fontsize=6, xytext=(3, 3),
                        textcoords="offset points", color=COLOURS.get(method))
    ax.set_xlabel(r"$f_{DPO}$")
    ax.set_ylabel(r"$f_{SFT}$")
    ax.set_title(r"final losses over $\lambda$ (labels) against the exact front")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)

    methods = list(by_method)
    def mean(method, key):
        values = [float(r[key]) for r in by_method[method]]
        return sum(values) / len(values)
    def evaluations(method):
        return mean(method, "grad_evals") + mean(method, "loss_evals")
    # Costs are relative to Sequential, as in the paper. A sweep without Sequential gets them relative to its
    # cheapest method (fewest evaluations) rather than no cost bars: the comparison between the methods is the
    # point of the panel, and the axis, legend and title name the base, so the bars cannot be misread.
    base = "sequential" if "sequential" in by_method else min(methods, key=evaluations)
    name = NAMES.get(base, base)
    base_cost = evaluations(base)
    base_time = mean(base, "wall_seconds")
    notes = [] if base == "sequential" else [f"no Sequential run: base is {name} (fewest evaluations)"]
    x = range(len(methods))
    width = 0.27
    bars.bar([i - width for i in x], [mean(m, "ideal_distance") for m in methods], width, label="mean ideal distance", color="tab:blue")
    if base_cost > 0:
        bars.bar(list(x), [evaluations(m) / base_cost - 1 for m in methods], width,
                 label=f"evaluations increase vs {name}", color="tab:orange")
    else:
        notes.append(f"evaluations not shown: {name} has none")
    # wall_seconds is rounded to microseconds: tiny runs can record 0 s, and then there is no runtime ratio.
    if base_time > 0:
        bars.bar([i + width for i in x], [mean(m, "wall_seconds") / base_time - 1 for m in methods], width,
                 label=f"runtime increase vs {name}", color="tab:olive")
    else:
        notes.append(f"runtime not shown: {name}'s runs took 0 s")
    bars.set_xticks(list(x))
    bars.set_xticklabels(methods)
    bars.axhline(0, color="k", lw=0.8)
    if notes:
        bars.set_title("\n".join([f"ideal distance, and cost relative to {name} (fraction)"] + notes), fontsize=10)
    else:
        bars.set_title(f"ideal distance, and cost relative to {name} (fraction)")
    bars.legend(fontsize=8)
    bars.grid(alpha=0.3, axis="y")
    fig.suptitle("Pareto picture (Figure 3 analogue): over-parameterized random instance")
    fig.tight_layout()
    print("wrote", save(fig, directory, "pareto"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
