#!/usr/bin/env python3
"""Draw the Figure 2 analogue from the CSVs that `forgetting figure2 --out DIR` writes.

Usage: python3 Plots/figure2.py DIR      (writes DIR/figure2.png and DIR/figure2.pdf)

Layout as in the paper (Fernando et al., Figure 2): columns (a) Sequential, (b) ALRIGHT, (c) MAXRIGHT;
the first row is the weight-space trajectory over the contours of f_DPO and f_SFT, with the start, the
optima and the end marked; the second row is the loss-space trajectory (f_DPO, f_SFT) with the ideal point
(f*_DPO, f*_SFT) and the exact Pareto front (minimizers of f_mix,lambda over a lambda grid).
Needs matplotlib only (CSV is read with the standard library).
"""
import json
import os
import sys

from common import plt, read, save

METHODS = [("sequential", "(a) Sequential"), ("alright", "(b) ALRIGHT"), ("maxright", "(c) MAXRIGHT")]
COLOURS = {"sequential": "tab:red", "alright": "tab:green", "maxright": "tab:purple"}


def main(directory):
    trajectories = read(os.path.join(directory, "trajectories.csv"))
    landscape = read(os.path.join(directory, "landscape.csv"))
    pareto = read(os.path.join(directory, "pareto.csv"))
    summary = {row["method"]: row for row in read(os.path.join(directory, "summary.csv"))}

    xs = sorted({float(r["theta_0"]) for r in landscape})
    ys = sorted({float(r["theta_1"]) for r in landscape})
    index = {(float(r["theta_0"]), float(r["theta_1"])): r for r in landscape}
    f_dpo = [[float(index[(x, y)]["f_dpo"]) for x in xs] for y in ys]
    f_sft = [[float(index[(x, y)]["f_sft"]) for x in xs] for y in ys]

    front = [(float(p["f_dpo"]), float(p["f_sft"])) for p in pareto]
    by_lambda = {float(p["lambda"]): p for p in pareto}
    dpo_opt = by_lambda[1.0]  # lambda = 1: f_mix = f_DPO
    sft_opt = by_lambda[0.0]  # lambda = 0: f_mix = f_SFT
    lam = float(trajectories[0]["lambda"])
    # The ideal point: the optimal values of each objective alone.
    ideal = (float(dpo_opt["f_dpo"]), float(sft_opt["f_sft"]))
    mix_opt = min(pareto, key=lambda p: abs(float(p["lambda"]) - lam))
    # MAXRIGHT's own target (eq. 15), recorded in the manifest by newer versions.
    manifest_path = os.path.join(directory, "manifest.json")
    max_opt = None
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            max_opt = json.load(f).get("maxOptimum")

    fig, axes = plt.subplots(2, 3, figsize=(13.5, 8.8))
    for column, (method, title) in enumerate(METHODS):
        rows = [r for r in trajectories if r["method"] == method]
        t0 = [float(r["theta_0"]) for r in rows]
        t1 = [float(r["theta_1"]) for r in rows]
        colour = COLOURS[method]

        ax = axes[0][column]
        ax.contour(xs, ys, f_dpo, levels=14, cmap="Blues", linewidths=0.8)
        ax.contour(xs, ys, f_sft, levels=14, cmap="Oranges", linewidths=0.8)
        ax.plot(t0, t1, color=colour, lw=1.6, label="trajectory")
        ax.plot(t0[0], t1[0], "ko", ms=6, label="start")
        ax.plot(t0[-1], t1[-1], marker="*", color=colour, ms=15, mec="k", ls="none", label="end")
        ax.plot(float(dpo_opt["theta_0"]), float(dpo_opt["theta_1"]), "bs", ms=7, label=r"$\theta^*_{DPO}$")
        ax.plot(float(sft_opt["theta_0"]), float(sft_opt["theta_1"]), "s", color="darkorange", ms=7, label=r"$\theta^*_{SFT}$")
        ax.plot(float(mix_opt["theta_0"]), float(mix_opt["theta_1"]), "D", color="gray", ms=6,
                label=rf"$\theta^*_{{mix}}$ ($\lambda$={lam:g})")
        if max_opt:
            ax.plot(*max_opt["theta"], "^", color="purple", mec="k", ms=7, label=r"$\theta^*_{max}$ (eq. 15)")
        ax.set_title(title)
        ax.set_xlabel(r"$\theta_0$")
        ax.set_ylabel(r"$\theta_1$")
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(ys[0], ys[-1])
        if column == 0:
            fig.legend(handles=ax.get_lines(), loc="upper center", bbox_to_anchor=(0.5, 0.515), ncol=7, fontsize=8,
                       frameon=False)

        ax = axes[1][column]
        ax.plot([p[0] for p in front], [p[1] for p in front], color="gray", lw=1.2, ls="--", label="Pareto front (exact)")
        ax.plot([float(r["f_dpo"]) for r in rows], [float(r["f_sft"]) for r in rows], color=colour, lw=1.6, label="trajectory")
        ax.plot(float(rows[0]["f_dpo"]), float(rows[0]["f_sft"]), "ko", ms=6, label="start")
        ax.plot(float(rows[-1]["f_dpo"]), float(rows[-1]["f_sft"]), marker="*", color=colour, ms=15, mec="k", ls="none", label="end")
        ax.plot(*ideal, marker="P", color="gold", mec="k", ms=12, ls="none", label=r"ideal point $(f^*_{DPO}, f^*_{SFT})$")
        ax.set_xlabel(r"$f_{DPO}$")
        ax.set_ylabel(r"$f_{SFT}$")
        s = summary.get(method)
        if s:
            title = f"ideal distance {float(s['ideal_distance']):.3f}, gap_mix {float(s['gap_mix']):.3g}"
            if s.get("gap_max"):
                title += f", gap_max {float(s['gap_max']):.2g}"
            ax.set_title(title, fontsize=10)
        if column == 0:
            ax.legend(fontsize=7, loc="upper right")
        ax.grid(alpha=0.3)
    # One scale for the three loss-space panels, so that the columns compare at a glance.
    lows = [min(ax.get_xlim()[0] for ax in axes[1]), min(ax.get_ylim()[0] for ax in axes[1])]
    highs = [max(ax.get_xlim()[1] for ax in axes[1]), max(ax.get_ylim()[1] for ax in axes[1])]
    for ax in axes[1]:
        ax.set_xlim(lows[0], highs[0])
        ax.set_ylim(lows[1], highs[1])
    fig.suptitle(rf"Sequential forgets; ALRIGHT and MAXRIGHT reach a trade-off ($\lambda$ = {lam:g})")
    fig.tight_layout(rect=(0, 0, 1, 1))
    fig.subplots_adjust(hspace=0.42)
    save(fig, directory, "figure2")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: figure2.py DIR")
    main(sys.argv[1])
