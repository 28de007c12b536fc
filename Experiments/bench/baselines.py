#!/usr/bin/env python3
"""NumPy-loop and JAX (jit + lax.scan, float64) versions of `forgetting bench` cases, on the same files.

Usage:
  baselines.py alright INSTANCE --steps T --rate A --coins COINS.npy --impl numpy|jax [--repeats R]
  baselines.py seeds INSTANCE --steps T --rate A0 --coins COINS.npy --impl numpy|jax [--repeats R]
  baselines.py hessian INSTANCE --impl numpy|jax
INSTANCE is a JSON instance file or an .npy instance directory (README: "Large instances from files").
COINS.npy holds ALRIGHT's draws (uint8, 1 = DPO step), written by `forgetting bench CASE --coins`, so every
implementation takes the same steps ([T] for alright, [S, T] for seeds: S seeds with alpha0/sqrt(t)).
Prints one JSON object: seconds per step, per seed-step or per call, and the result.

The JAX programs are written as a JAX user would: float64, closed-form gradients, jit, lax.scan over the
steps, timed after compilation, best of --repeats. alright times two programs (lax.cond on the coin, and
jnp.where of both gradients) and reports the faster; seeds is jit(vmap(scan)) over the seeds with jnp.where
(lax.cond under vmap computes both branches anyway). NumPy's seeds loop is vectorised over the seeds.
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def load(path):
    """Features, indices and scalars of an instance, with every DPO/SFT input padded to its own K."""
    if os.path.isdir(path):
        scalars = json.load(open(os.path.join(path, "instance.json")))
        arrays = {name: np.load(os.path.join(path, name + ".npy")) for name in
                  ["dpo_features", "dpo_chosen", "dpo_rejected", "sft_features", "sft_targets"]}
    else:
        scalars = json.load(open(path))
        def stack(items):
            return np.array([item["features"] for item in items], dtype=np.float64)
        arrays = {"dpo_features": stack(scalars["dpo"]),
                  "dpo_chosen": np.array([i["chosen"] for i in scalars["dpo"]]),
                  "dpo_rejected": np.array([i["rejected"] for i in scalars["dpo"]]),
                  "sft_features": stack(scalars["sft"]),
                  "sft_targets": np.array([i["target"] for i in scalars["sft"]])}
    return scalars, arrays


def reference(scalars, arrays):
    """theta_ref and the start point, as the toolkit computes them (Problem.referenceTheta, defaultStart)."""
    ref = scalars["reference"]
    mu = scalars.get("weightDecay", 0.0)
    if "theta" in ref:
        theta = np.array(ref["theta"], dtype=np.float64)
        return theta, theta.copy()
    fit = ref["fit"]
    start = np.array(fit["init"], dtype=np.float64)
    F, y = arrays["dpo_features"], arrays["dpo_chosen"]
    theta = start.copy()
    n = len(y)
    for _ in range(fit["steps"]):
        logits = F @ theta
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = np.einsum("nk,nkd->d", p, F) / n - F[np.arange(n), y].sum(axis=0) / n + mu * theta
        theta = theta - fit["learningRate"] * g
    return theta, start


def numpy_alright(scalars, arrays, steps, rate, coins):
    beta, mu = scalars["beta"], scalars.get("weightDecay", 0.0)
    theta_ref, theta = reference(scalars, arrays)
    Fd = arrays["dpo_features"]
    n = Fd.shape[0]
    dphi = Fd[np.arange(n), arrays["dpo_chosen"]] - Fd[np.arange(n), arrays["dpo_rejected"]]
    margins = dphi @ theta_ref
    Fs, ys = arrays["sft_features"], arrays["sft_targets"]
    m = Fs.shape[0]
    target_mean = Fs[np.arange(m), ys].sum(axis=0) / m
    started = time.perf_counter()
    for t in range(steps):
        if coins[t]:
            z = beta * (dphi @ theta - margins)
            s = np.exp(-np.logaddexp(0.0, z))  # sigma(-z)
            g = -(beta / n) * (s @ dphi) + mu * theta
        else:
            logits = Fs @ theta
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            g = np.einsum("mk,mkd->d", p, Fs) / m - target_mean + mu * theta
        theta = theta - rate * g
    return (time.perf_counter() - started) / steps, theta


def jax_alright(scalars, arrays, steps, rate, coins):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    beta, mu = scalars["beta"], scalars.get("weightDecay", 0.0)
    theta_ref, theta0 = reference(scalars, arrays)
    Fd = arrays["dpo_features"]
    n = Fd.shape[0]
    dphi = jnp.asarray(Fd[np.arange(n), arrays["dpo_chosen"]] - Fd[np.arange(n), arrays["dpo_rejected"]])
    margins = dphi @ jnp.asarray(theta_ref)
    Fs = jnp.asarray(arrays["sft_features"])
    m = Fs.shape[0]
    target_mean = jnp.asarray(arrays["sft_features"][np.arange(m), arrays["sft_targets"]].sum(axis=0) / m)

    def dpo(theta):
        z = beta * (dphi @ theta - margins)
        return -(beta / n) * (jnp.exp(-jnp.logaddexp(0.0, z)) @ dphi) + mu * theta

    def sft(theta):
        p = jax.nn.softmax(Fs @ theta, axis=1)
        return jnp.einsum("mk,mkd->d", p, Fs) / m - target_mean + mu * theta

    @jax.jit
    def run_cond(theta, coins):
        def body(theta, coin):
            return theta - rate * jax.lax.cond(coin, dpo, sft, theta), None
        return jax.lax.scan(body, theta, coins)[0]

    @jax.jit
    def run_where(theta, coins):
        def body(theta, coin):
            return theta - rate * jnp.where(coin, dpo(theta), sft(theta)), None
        return jax.lax.scan(body, theta, coins)[0]

    coins = jnp.asarray(coins[:steps].astype(bool))
    best = None
    for run in (run_cond, run_where):
        run(jnp.asarray(theta0), coins).block_until_ready()  # compile outside the timing
        started = time.perf_counter()
        theta = run(jnp.asarray(theta0), coins).block_until_ready()
        elapsed = (time.perf_counter() - started) / steps
        if best is None or elapsed < best[0]:
            best = (elapsed, np.asarray(theta))
    return best


def seed_arrays(scalars, arrays):
    """dphi, reference margins, SFT features and target mean, as numpy arrays."""
    theta_ref, theta0 = reference(scalars, arrays)
    Fd = arrays["dpo_features"]
    n = Fd.shape[0]
    dphi = Fd[np.arange(n), arrays["dpo_chosen"]] - Fd[np.arange(n), arrays["dpo_rejected"]]
    Fs = arrays["sft_features"]
    m = Fs.shape[0]
    target_mean = Fs[np.arange(m), arrays["sft_targets"]].sum(axis=0) / m
    return theta0, dphi, dphi @ theta_ref, Fs, target_mean


def numpy_seeds(scalars, arrays, steps, rate, coins):
    """S seeds at once: theta is [S, d]; both gradients for every seed, the coin selects."""
    beta, mu = scalars["beta"], scalars.get("weightDecay", 0.0)
    theta0, dphi, margins, Fs, target_mean = seed_arrays(scalars, arrays)
    n, m = dphi.shape[0], Fs.shape[0]
    S = coins.shape[0]
    theta = np.tile(theta0, (S, 1))
    coins = coins[:, :steps].astype(bool)
    started = time.perf_counter()
    for t in range(steps):
        z = beta * (theta @ dphi.T - margins)                          # [S, n]
        s = np.exp(-np.logaddexp(0.0, z))
        g_dpo = -(beta / n) * (s @ dphi) + mu * theta
        logits = np.einsum("mkd,sd->smk", Fs, theta)
        p = np.exp(logits - logits.max(axis=2, keepdims=True))
        p /= p.sum(axis=2, keepdims=True)
        g_sft = np.einsum("smk,mkd->sd", p, Fs) / m - target_mean + mu * theta
        theta = theta - (rate / np.sqrt(t + 1)) * np.where(coins[:, t:t + 1], g_dpo, g_sft)
    return (time.perf_counter() - started) / (steps * S), theta.ravel()


def jax_seeds(scalars, arrays, steps, rate, coins):
    """jit(vmap(scan)): one seed's run is a scan over the steps, vmapped over the seeds."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    beta, mu = scalars["beta"], scalars.get("weightDecay", 0.0)
    theta0, dphi, margins, Fs, target_mean = (jnp.asarray(a) for a in seed_arrays(scalars, arrays))
    n, m = dphi.shape[0], Fs.shape[0]
    S = coins.shape[0]

    def dpo(theta):
        z = beta * (dphi @ theta - margins)
        return -(beta / n) * (jax.nn.sigmoid(-z) @ dphi) + mu * theta

    def sft(theta):
        p = jax.nn.softmax(Fs @ theta, axis=1)
        return jnp.einsum("mk,mkd->d", p, Fs) / m - target_mean + mu * theta

    alphas = rate / jnp.sqrt(jnp.arange(1, steps + 1, dtype=jnp.float64))

    def one(coins_s):
        def body(theta, xs):
            coin, alpha = xs
            return theta - alpha * jnp.where(coin, dpo(theta), sft(theta)), None
        return jax.lax.scan(body, theta0, (coins_s, alphas))[0]

    run = jax.jit(jax.vmap(one))
    c = jnp.asarray(coins[:, :steps].astype(bool))
    run(c).block_until_ready()  # compile outside the timing
    started = time.perf_counter()
    theta = run(c).block_until_ready()
    return (time.perf_counter() - started) / (steps * S), np.asarray(theta).ravel()


def hessian(scalars, arrays, impl):
    Fs = arrays["sft_features"]
    _, theta = reference(scalars, arrays)
    mu = scalars.get("weightDecay", 0.0)
    m, k, d = Fs.shape
    if impl == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        @jax.jit
        def h(F, theta):
            p = jax.nn.softmax(F @ theta, axis=1)
            mean = jnp.einsum("mk,mkd->md", p, F)
            W = (jnp.sqrt(p)[:, :, None] * (F - mean[:, None, :])).reshape(m * k, d)
            H = W.T @ W / m + mu * jnp.eye(d)
            return H, jnp.linalg.eigvalsh(H)[0]
        F, th = jnp.asarray(Fs), jnp.asarray(theta)
        jax.block_until_ready(h(F, th))
        started = time.perf_counter()
        H, smallest = jax.block_until_ready(h(F, th))
        return time.perf_counter() - started, [float(smallest), float(jnp.sum(H))]
    started = time.perf_counter()
    logits = Fs @ theta
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    mean = np.einsum("mk,mkd->md", p, Fs)
    W = (np.sqrt(p)[:, :, None] * (Fs - mean[:, None, :])).reshape(m * k, d)
    H = W.T @ W / m + mu * np.eye(d)
    smallest = np.linalg.eigvalsh(H)[0]
    return time.perf_counter() - started, [float(smallest), float(H.sum())]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=["alright", "seeds", "hessian"])
    parser.add_argument("instance")
    parser.add_argument("--impl", choices=["numpy", "jax"], required=True)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--coins")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    scalars, arrays = load(args.instance)
    if args.case == "hessian":
        best, result = min((hessian(scalars, arrays, args.impl) for _ in range(args.repeats)), key=lambda r: r[0])
        print(json.dumps({"impl": args.impl, "secondsPerCall": best, "result": result, "checksum": sum(result)}))
        return
    if args.steps is None or args.rate is None or args.coins is None:
        sys.exit("alright needs --steps, --rate and --coins")
    coins = np.load(args.coins)
    if coins.shape[-1] < args.steps:
        sys.exit(f"{args.coins}: {coins.shape[-1]} coins for {args.steps} steps")
    if args.case == "seeds":
        run = numpy_seeds if args.impl == "numpy" else jax_seeds
        best, theta = min((run(scalars, arrays, args.steps, args.rate, coins) for _ in range(args.repeats)), key=lambda r: r[0])
        print(json.dumps({"impl": args.impl, "secondsPerSeedStep": best, "result": [float(x) for x in theta],
                          "checksum": float(np.sum(theta))}))
        return
    run = numpy_alright if args.impl == "numpy" else jax_alright
    best, theta = min((run(scalars, arrays, args.steps, args.rate, coins) for _ in range(args.repeats)), key=lambda r: r[0])
    print(json.dumps({"impl": args.impl, "secondsPerStep": best, "result": [float(x) for x in theta],
                      "checksum": float(np.sum(theta))}))


if __name__ == "__main__":
    main()
