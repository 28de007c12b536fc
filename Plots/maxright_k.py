#!/usr/bin/env python3
"""The Figure 4 analogue: memory-efficient MAXRIGHT for several k (both objectives evaluated every k steps).

Usage: python3 Plots/maxright_k.py SWEEP_DIR     (from `forgetting sweep Experiments/maxright-k.yaml`)
Writes SWEEP_DIR/maxright-k.png and .pdf: ideal distance against the step, gap_max (the gap of MAXRIGHT's own
target max{lambda gap_DPO, (1 - lambda) gap_SFT}, eq. 15) against the step, loss-space trajectories, and the
final ideal distance and gap_max with the objective evaluations each k costs.
"""
import sys
from collections import defaultdict

from common import plt, read, save


def main(directory):
    trajectories = read(f"{directory}/trajectories.csv")
    summary = {r["run_id"]: r for r in read(f"{directory}/summary.csv")}
    runs = defaultdict(list)
    for r in trajectories:
        runs[r["run_id"]].append(r)
    fig, (left, target, middle, right) = plt.subplots(1, 4, figsize=(21, 4.8))
    colours = plt.cm.viridis
    ks = []
    for n, (run_id, rows) in enumerate(sorted(runs.items(), key=lambda kv: int(summary[kv[0]]["eval_every"]))):
        k = int(summary[run_id]["eval_every"])
        ks.append((k, summary[run_id]))
        colour = colours(n / max(1, len(runs) - 1))
        steps = [max(int(r["step"]), 1) for r in rows]
        left.plot(steps, [float(r["ideal_distance"]) for r in rows], color=colour, label=f"k = {k}")
        # gap_max is >= 0 up to rounding; clip for the log axis (an empty field would be a missing optimum).
        gaps = [(s, max(float(r["gap_max"]), 1e-16)) for s, r in zip(steps, rows) if r["gap_max"] != ""]
        target.plot([s for s, _ in gaps], [g for _, g in gaps], color=colour, label=f"k = {k}")
        middle.plot([float(r["f_dpo"]) for r in rows], [float(r["f_sft"]) for r in rows], color=colour, label=f"k = {k}")
        middle.plot(float(rows[-1]["f_dpo"]), float(rows[-1]["f_sft"]), "*", color=colour, ms=12, mec="k")
    left.set_xscale("log")
    left.set_xlabel("step")
    left.set_ylabel("ideal distance")
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)
    target.set_xscale("log")
    target.set_yscale("log")
    target.set_xlabel("step")
    target.set_ylabel("gap_max")
    target.set_title(r"MAXRIGHT's own target: $\max\{\lambda\,gap_{DPO}, (1-\lambda)\,gap_{SFT}\} - \min$", fontsize=9)
    target.grid(alpha=0.3, which="both")
    target.legend(fontsize=8)
    middle.set_xlabel(r"$f_{DPO}$")
    middle.set_ylabel(r"$f_{SFT}$")
    middle.set_title("loss-space trajectories (star: end)")
    middle.grid(alpha=0.3)
    labels = [str(k) for k, _ in ks]
    right.bar(labels, [float(s["ideal_distance"]) for _, s in ks], color="tab:blue", label="final ideal distance")
    for n, (_, s) in enumerate(ks):
        if s["gap_max"] != "":
            right.annotate(f"gap_max {float(s['gap_max']):.2g}", (n, float(s["ideal_distance"])), ha="center",
                           va="bottom", fontsize=8)
    twin = right.twinx()
    twin.plot(labels, [int(s["loss_evals"]) for _, s in ks], "o-", color="tab:orange", label="objective evaluations")
    twin.set_yscale("log")
    right.set_xlabel("k (max evaluation steps)")
    right.set_ylabel("final ideal distance")
    twin.set_ylabel("objective evaluations")
    right.set_title("quality and cost per k")
    fig.suptitle("Memory-efficient MAXRIGHT (Figure 4 analogue)")
    fig.tight_layout()
    print("wrote", save(fig, directory, "maxright-k"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
