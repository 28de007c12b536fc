#!/usr/bin/env python3
"""Theorem 3.3: Sequential's optimality gap against T, per lambda, with the certified floor c(lambda).

Usage: python3 Plots/theorem33.py SWEEP_DIR FLOORS_CSV
  SWEEP_DIR   from `forgetting sweep Experiments/theorem33.yaml --out SWEEP_DIR`
  FLOORS_CSV  from `forgetting verify theorem33 --csv FLOORS_CSV`
Writes SWEEP_DIR/theorem33.png and .pdf.
"""
import sys
from collections import defaultdict

from common import plt, read, save

STYLE = {"sequential": ("DPO->SFT", "tab:red"), "sequential-sft-first": ("SFT->DPO", "tab:blue"), "alright": ("ALRIGHT", "tab:green")}
DASH = {"constant": "-", "inverse-sqrt": "--"}


def main(directory, floors_path):
    summary = read(f"{directory}/summary.csv")
    floors = read(floors_path)
    lambdas = sorted({float(r["lambda"]) for r in summary})
    fig, axes = plt.subplots(1, len(lambdas), figsize=(5.2 * len(lambdas), 4.6), sharey=True)
    for ax, lam in zip(axes, lambdas):
        curves = defaultdict(list)
        for r in summary:
            if float(r["lambda"]) == lam:
                curves[(r["method"], r["schedule"], r["rate"])].append((int(r["steps"]), max(float(r["gap_mix"]), 1e-16)))
        for (method, schedule, rate), points in sorted(curves.items()):
            points.sort()
            name, colour = STYLE[method]
            ax.plot([p[0] for p in points], [p[1] for p in points], DASH[schedule], color=colour, marker="o", ms=3,
                    label=f"{name} {schedule}({rate})")
            if method.startswith("sequential"):
                variant = f"{name} {schedule}({rate})"
                rows = [f for f in floors if f["variant"] == variant and abs(float(f["lambda"]) - lam) < 1e-12]
                if rows:
                    floor, t0 = float(rows[0]["floor"]), float(rows[0]["t0"])
                    right = max(p[0] for p in points)
                    if t0 <= right:
                        ax.hlines(floor, max(t0, 10), right, colors=colour, linestyles=DASH[schedule], lw=3, alpha=0.35)
                    # The T-dependent certified floor G(U(T)) (G(L(T)) for SFT first), where the CSV has it.
                    certified = sorted((int(f["horizon"]), float(f["certified_floor"])) for f in rows
                                       if f.get("certified_floor") and float(f["certified_floor"]) > 0)
                    if certified:
                        ax.plot([c[0] for c in certified], [c[1] for c in certified], DASH[schedule], color=colour, lw=0.8,
                                marker="_", ms=8, alpha=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("horizon T (Sequential: T_DPO = T_SFT = T)")
        ax.set_title(rf"$\lambda$ = {lam:g}")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(r"$G_{mix,\lambda}$ of the output")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Theorem 3.3: Sequential's gap stays above its floor c(lambda) (thick bands, from T0 on) and its certified\n"
                 "T-dependent floor G(U(T)) (thin lines with ticks, where the verify CSV has the horizon); ALRIGHT's gap vanishes")
    fig.tight_layout()
    print("wrote", save(fig, directory, "theorem33"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
