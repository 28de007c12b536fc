#!/usr/bin/env python3
"""Export a language model's features as an .npy instance (Remark 3.1: fine-tuning only the output projection
on fixed features is exactly the paper's softmax model).

phi(x, y) is the model's last hidden state at the last token of prompt x followed by candidate response y,
divided by one common scale s (the largest norm over all exported states, over --feature-bound) so every
||phi|| <= featureBound; theta_ref = 0 (the uniform policy over each input's candidates). Then
theta . phi(x, y) is the logit that a linear head theta gives response y.

  SFT datum (prompt, candidates, target): one input whose outputs are all candidates; every SFT datum must
      have the same number of candidates (the .npy layout is [M, K, d]).
  DPO datum (prompt, chosen, rejected): one input with the two outputs [chosen, rejected] (chosen = 0,
      rejected = 1): the DPO loss only reads those two.

Data file (JSON): {"sft": [{"prompt": "...", "candidates": ["...", ...], "target": 0}, ...],
                   "dpo": [{"prompt": "...", "chosen": "...", "rejected": "..."}, ...]}

Models: anything with the interface `hidden(ids: list[int]) -> array [len(ids), d]` (last layer's states) and a
tokenizer `tokenize(text) -> list[int]`:
  * TinyTransformer: a self-contained NumPy causal transformer (byte tokens, random weights from a seed), so
    the exporter runs and is tested without downloading weights (the default, `--model tiny`);
  * hugging_face(path): wraps a local Hugging Face model directory (needs torch and transformers installed;
    loads with local_files_only=True, never downloads). Not exercised here: torch's PyPI wheel pulls several
    GB of CUDA libraries, too heavy for this project's CI.

Writes OUT/ (instance.json, dpo_features.npy, dpo_chosen.npy, dpo_rejected.npy, sft_features.npy,
sft_targets.npy) and OUT/lm_features.json (model, scale s, d, counts). Load it with any command, e.g.
`forgetting check --instance OUT`.

Usage: python Experiments/data/lm_features.py --data FILE.json --out DIR [--model tiny|HF_DIR] [--seed S]
       [--beta B] [--weight-decay MU] [--feature-bound PHI]
       python Experiments/data/lm_features.py --demo --out DIR     (a small built-in data set, tiny model)
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np


class TinyTransformer:
    """A pre-norm causal transformer in NumPy: byte embeddings + learned positions, `layers` blocks of
    multi-head causal self-attention and a GELU MLP, a final layer norm. Random weights from `seed`.

    `hidden(ids)` returns the final layer-normed states [len(ids), width], like a Hugging Face model's
    `hidden_states[-1]` (the input of its output projection)."""

    vocabulary = 256

    def __init__(self, width=16, layers=2, heads=2, context=256, seed=0):
        if width % heads:
            raise ValueError("width must be a multiple of heads")
        rng = np.random.default_rng(seed)
        self.width, self.heads, self.context = width, heads, context
        scale = 1 / np.sqrt(width)
        self.embedding = rng.normal(0, 1, (self.vocabulary, width))
        self.position = rng.normal(0, 0.1, (context, width))
        self.blocks = []
        for _ in range(layers):
            self.blocks.append({
                "qkv": rng.normal(0, scale, (width, 3 * width)), "out": rng.normal(0, scale, (width, width)),
                "up": rng.normal(0, scale, (width, 4 * width)), "down": rng.normal(0, scale / 2, (4 * width, width)),
            })

    @staticmethod
    def tokenize(text):
        return list(text.encode("utf-8"))

    @staticmethod
    def norm(h):
        mean = h.mean(-1, keepdims=True)
        return (h - mean) / np.sqrt(((h - mean) ** 2).mean(-1, keepdims=True) + 1e-5)

    @staticmethod
    def gelu(z):
        return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))

    def hidden(self, ids):
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 1 or len(ids) == 0 or len(ids) > self.context:
            raise ValueError(f"a sequence needs 1 to {self.context} tokens, got {len(ids)}")
        t, w, heads = len(ids), self.width, self.heads
        h = self.embedding[ids] + self.position[:t]
        mask = np.triu(np.full((t, t), -np.inf), 1)
        for block in self.blocks:
            q, k, v = np.split(self.norm(h) @ block["qkv"], 3, axis=-1)
            q, k, v = (a.reshape(t, heads, w // heads).transpose(1, 0, 2) for a in (q, k, v))
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(w // heads) + mask
            weights = np.exp(scores - scores.max(-1, keepdims=True))
            weights /= weights.sum(-1, keepdims=True)
            h = h + (weights @ v).transpose(1, 0, 2).reshape(t, w) @ block["out"]
            h = h + self.gelu(self.norm(h) @ block["up"]) @ block["down"]
        return self.norm(h)


def hugging_face(path):
    """(hidden, tokenize, description) for a local Hugging Face causal LM directory (torch + transformers)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def hidden(ids):
        with torch.no_grad():
            output = model(torch.tensor([ids]), output_hidden_states=True)
        return output.hidden_states[-1][0].double().numpy()

    return hidden, lambda text: tokenizer(text, add_special_tokens=False)["input_ids"], f"huggingface:{path}"


def last_state(hidden, tokenize, prompt, response):
    """The last hidden state of prompt + response: the feature vector of (x, y) before scaling."""
    ids = tokenize(prompt) + tokenize(response)
    return np.asarray(hidden(ids), dtype=np.float64)[-1]


def export(hidden, tokenize, data, out, beta=1.0, weight_decay=0.0, feature_bound=1.0, model="model", name="lm-features"):
    """Writes the .npy instance of `data` ({"sft": [...], "dpo": [...]}) to `out`; returns the scale s."""
    sft, dpo = data.get("sft", []), data.get("dpo", [])
    if not sft or not dpo:
        raise ValueError("the data needs at least one SFT and one DPO datum")
    counts = {len(s["candidates"]) for s in sft}
    if len(counts) != 1 or min(counts) < 2:
        raise ValueError(f"every SFT datum needs the same number (>= 2) of candidates, got {sorted(counts)}")
    for i, s in enumerate(sft):
        if not 0 <= s["target"] < len(s["candidates"]):
            raise ValueError(f"sft[{i}].target {s['target']} is not a candidate index")
    for i, p in enumerate(dpo):
        if p["chosen"] == p["rejected"]:
            raise ValueError(f"dpo[{i}]: chosen and rejected are the same response")
    sft_states = np.array([[last_state(hidden, tokenize, s["prompt"], c) for c in s["candidates"]] for s in sft])
    dpo_states = np.array([[last_state(hidden, tokenize, p["prompt"], p["chosen"]),
                            last_state(hidden, tokenize, p["prompt"], p["rejected"])] for p in dpo])
    largest = max(np.linalg.norm(sft_states, axis=-1).max(), np.linalg.norm(dpo_states, axis=-1).max())
    scale = float(largest / feature_bound) if largest > 0 else 1.0
    d = sft_states.shape[-1]
    arrays = {"dpo_features": dpo_states / scale, "dpo_chosen": np.zeros(len(dpo), np.int64),
              "dpo_rejected": np.ones(len(dpo), np.int64), "sft_features": sft_states / scale,
              "sft_targets": np.array([s["target"] for s in sft], np.int64)}
    scalars = {"name": name, "featureBound": feature_bound, "beta": beta, "weightDecay": weight_decay,
               "reference": {"theta": [0.0] * d}}
    info = {"model": model, "scale": scale, "dimension": d, "sft": len(sft), "dpo": len(dpo),
            "candidates": counts.pop(), "feature": "last hidden state at the last token of prompt + response, / scale"}
    out = os.path.abspath(out)
    staging = os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.{os.getpid()}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    try:
        for key, array in arrays.items():
            np.save(os.path.join(staging, key + ".npy"), array)
        for file, content in (("instance.json", scalars), ("lm_features.json", info)):
            with open(os.path.join(staging, file), "w") as f:
                json.dump(content, f, indent=1)
                f.write("\n")
        if os.path.lexists(out):
            if os.path.islink(out) or not os.path.isdir(out):
                raise ValueError(f"{out} exists and is not a directory")
            shutil.rmtree(out)
        os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return scale


DEMO = {
    "sft": [
        {"prompt": "Q: 2+2? A:", "candidates": [" 4", " 5", " 22"], "target": 0},
        {"prompt": "Q: capital of France? A:", "candidates": [" Paris", " Lyon", " Rome"], "target": 0},
        {"prompt": "Q: opposite of hot? A:", "candidates": [" warm", " cold", " red"], "target": 1},
        {"prompt": "Q: 3*3? A:", "candidates": [" 6", " 33", " 9"], "target": 2},
    ],
    "dpo": [
        {"prompt": "Write a greeting:", "chosen": " Hello, nice to meet you.", "rejected": " What do you want?"},
        {"prompt": "Summarize: the cat sat on the mat.", "chosen": " A cat sat.", "rejected": " Dogs bark loudly."},
        {"prompt": "Say thanks:", "chosen": " Thank you!", "rejected": " No."},
    ],
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="JSON file with sft and dpo lists")
    parser.add_argument("--demo", action="store_true", help="use the small built-in data set")
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", default="tiny", help="tiny (random NumPy transformer) or a local Hugging Face model directory")
    parser.add_argument("--seed", type=int, default=0, help="seed of the tiny model's weights")
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--feature-bound", type=float, default=1.0)
    args = parser.parse_args(argv)
    try:
        if args.demo == (args.data is not None):
            raise ValueError("give exactly one of --data FILE and --demo")
        if args.beta <= 0 or args.weight_decay < 0 or args.feature_bound <= 0:
            raise ValueError("--beta and --feature-bound must be > 0, --weight-decay >= 0")
        if args.data:
            with open(args.data) as f:
                data = json.load(f)
        else:
            data = DEMO
        if args.model == "tiny":
            model = TinyTransformer(seed=args.seed)
            hidden, tokenize, description = model.hidden, model.tokenize, f"tiny-random-seed{args.seed}"
        else:
            hidden, tokenize, description = hugging_face(args.model)
        scale = export(hidden, tokenize, data, args.out, args.beta, args.weight_decay, args.feature_bound, description)
    except ImportError as error:
        sys.exit(f"lm_features.py: --model {args.model} needs torch and transformers ({error})")
    except (ValueError, OSError, KeyError, TypeError) as error:
        sys.exit(f"lm_features.py: {error}")
    print(f"wrote {args.out}: {len(data['sft'])} SFT and {len(data['dpo'])} DPO data, model {description}, scale {scale:.6g}")


if __name__ == "__main__":
    main()
