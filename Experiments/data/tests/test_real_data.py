"""Tests of the real-data exporters (Experiments/data/digits.py, lm_features.py) and of the held-out accuracy
in Plots/digits.py. CI runs them with `.venv/bin/python -m pytest Experiments/data/tests` after
`bash .ci/setup --data` (numpy, scikit-learn, matplotlib, pytest); the `forgetting` executable is found through
$FORGETTING, else .build/release or .build/debug."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "Experiments", "data"))
sys.path.append(os.path.join(ROOT, "Plots"))  # after Experiments/data: Plots/digits.py is loaded by path

import digits  # noqa: E402
import lm_features  # noqa: E402


def forgetting():
    candidates = [os.environ.get("FORGETTING", "")] + [os.path.join(ROOT, ".build", c, "forgetting") for c in ("release", "debug")]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    pytest.fail("no forgetting executable: build it (swift build --product forgetting) or set FORGETTING")


def run(*args):
    return subprocess.run([forgetting(), *args], capture_output=True, text=True, timeout=600)


def load(directory):
    return {name: np.load(os.path.join(directory, name + ".npy")) for name in
            ("dpo_features", "dpo_chosen", "dpo_rejected", "sft_features", "sft_targets")}


# ---------------------------------------------------------------------------------------------- digits

@pytest.fixture(scope="module")
def small_digits(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("digits") / "instance")
    digits.main(["--out", out, "--sft", "40", "--dpo", "30", "--heldout", "50", "--weight-decay", "0.01"])
    return out


def raw_index():
    """Pixels (0..16 integers) -> index in load_digits (the 1,797 images are pairwise distinct)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return {row.astype(np.int64).tobytes(): i for i, row in enumerate(data.data)}, data.target


def test_digits_layout_labels_and_parts(small_digits):
    arrays = load(small_digits)
    info = json.load(open(os.path.join(small_digits, "digits.json")))
    assert arrays["sft_features"].shape == (40, 10, 640) and arrays["dpo_features"].shape == (30, 10, 640)
    index, labels = raw_index()
    used = []
    for part, x in (("sft", arrays["sft_features"][:, 0, :64]), ("dpo", arrays["dpo_features"][:, 0, :64]),
                    ("heldout", np.load(os.path.join(small_digits, "heldout_inputs.npy")))):
        pixels = np.rint(x * info["normScale"] * 16).astype(np.int64)
        assert np.abs(x * info["normScale"] * 16 - pixels).max() < 1e-9          # exactly scaled pixels
        rows = [index[p.tobytes()] for p in pixels]                                # every image is a real one
        used += rows
        if part == "sft":
            assert (arrays["sft_targets"] == labels[rows]).all()                   # SFT targets are true labels
        if part == "heldout":
            assert (np.load(os.path.join(small_digits, "heldout_labels.npy")) == labels[rows]).all()
        if part == "dpo":
            dpo_labels = labels[rows]
    assert len(set(used)) == len(used) == 120                                       # disjoint parts
    # phi(x, y) = e_y (x) x: block y holds x, every other block is zero; ||phi|| <= featureBound = 1.
    for features in (arrays["sft_features"], arrays["dpo_features"]):
        x = features[:, 0, :64]
        for y in range(10):
            expected = np.zeros((len(x), 640))
            expected[:, 64 * y:64 * (y + 1)] = x
            assert (features[:, y, :] == expected).all()
        assert np.linalg.norm(features, axis=-1).max() <= 1 + 1e-15
    # The largest image norm over all 1,797 images is exactly 1 after scaling.
    scaled, _, _ = digits.load_images()
    assert abs(np.linalg.norm(scaled, axis=1).max() - 1) < 1e-15
    # The annotator: swapped classes prefer the partner over the truth, the others the truth over a wrong label.
    partner = {a: b for a, b in info["swappedPairs"]} | {b: a for a, b in info["swappedPairs"]}
    for y, chosen, rejected in zip(dpo_labels, arrays["dpo_chosen"], arrays["dpo_rejected"]):
        if y in partner:
            assert (chosen, rejected) == (partner[y], y)
        else:
            assert chosen == y and rejected != y


def test_digits_default_construction_swaps_confusable_pairs():
    # Hand-checked: with seed 0 and 600 SFT images the two closest pairs of class means are 3-9 and 1-8 (also
    # the two closest on all 1,797 images: squared distances 1.71 and 1.74 in units of the scaled pixels).
    _, arrays, info = digits.build()
    assert sorted(map(sorted, info["swappedPairs"])) == [[1, 8], [3, 9]]
    assert info["sft"] == 600 and info["dpo"] == 600 and info["heldout"] == 597
    index, labels = raw_index()
    pixels = np.rint(arrays["dpo_features"][:, 0, :64] * info["normScale"] * 16).astype(np.int64)
    truth = labels[[index[p.tobytes()] for p in pixels]]
    swapped = np.isin(truth, [1, 3, 8, 9])
    assert info["conflictingDPOPairs"] == int(swapped.sum()) == int((arrays["dpo_chosen"] != truth).sum()) == 234


def test_digits_is_deterministic(tmp_path):
    first, second = str(tmp_path / "a"), str(tmp_path / "b")
    for out in (first, second):
        digits.main(["--out", out, "--sft", "40", "--dpo", "10", "--heldout", "10"])
    for name in sorted(os.listdir(first)):
        with open(os.path.join(first, name), "rb") as a, open(os.path.join(second, name), "rb") as b:
            assert a.read() == b.read(), name


def test_digits_instance_passes_the_toolkit_checks(tmp_path):
    out = str(tmp_path / "tiny")
    digits.main(["--out", out, "--sft", "40", "--dpo", "10", "--heldout", "10", "--weight-decay", "0.01"])
    result = run("check", "--instance", out, "--points", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 6 claims hold" in result.stdout
    optimum = run("optimum", "--instance", out, "--objective", "mix", "--lambda", "0.5", "--json")
    assert optimum.returncode == 0, optimum.stderr
    assert json.loads(optimum.stdout)["attained"] is True                        # weight decay > 0


def test_heldout_accuracy_matches_explicit_features(small_digits):
    from digits import features as phi
    import importlib

    spec = importlib.util.spec_from_file_location("plot_digits", os.path.join(ROOT, "Plots", "digits.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    held = {k: np.load(os.path.join(small_digits, f"heldout_{k}.npy")) for k in ("inputs", "labels", "chosen", "rejected")}
    rng = np.random.default_rng(3)
    theta = rng.normal(size=(4, 640))
    explicit = np.einsum("hkd,rd->rhk", phi(held["inputs"]), theta)                 # theta . phi(x, y)
    assert np.allclose(module.heldout_scores(theta, held["inputs"]), explicit, rtol=0, atol=1e-12)
    accuracy, agreement = module.accuracies(theta, held)
    h = np.arange(len(held["labels"]))
    assert np.allclose(accuracy, (explicit.argmax(-1) == held["labels"]).mean(-1))
    assert np.allclose(agreement, (explicit[:, h, held["chosen"]] > explicit[:, h, held["rejected"]]).mean(-1))
    # A theta whose row y is the mean of digit y's held-out images classifies most of them right (sanity of the
    # orientation: rows are digits, columns pixels).
    means = np.stack([held["inputs"][held["labels"] == y].mean(0) if (held["labels"] == y).any() else np.zeros(64)
                      for y in range(10)])
    centred = means - means.mean(0)
    assert module.accuracies((10 * centred).reshape(1, 640), held)[0][0] > 0.6


# ---------------------------------------------------------------------------------------------- LM features

def reference_hidden(model, ids):
    """The tiny transformer's last hidden states, token by token with explicit loops (independent of the
    vectorized model.hidden)."""
    def norm(v):
        return (v - v.mean()) / np.sqrt(((v - v.mean()) ** 2).mean() + 1e-5)

    w, heads = model.width, model.heads
    size = w // heads
    states = [model.embedding[i] + model.position[t] for t, i in enumerate(ids)]
    for block in model.blocks:
        qkv = [norm(s) @ block["qkv"] for s in states]
        new = []
        for t in range(len(ids)):
            mixed = np.zeros(w)
            for head in range(heads):
                part = slice(head * size, (head + 1) * size)
                q = qkv[t][:w][part]
                logits = np.array([q @ qkv[u][w:2 * w][part] / np.sqrt(size) for u in range(t + 1)])
                p = np.exp(logits - logits.max())
                p /= p.sum()
                mixed[part] = sum(p[u] * qkv[u][2 * w:][part] for u in range(t + 1))
            new.append(states[t] + mixed @ block["out"])
        states = [s + model.gelu(norm(s) @ block["up"]) @ block["down"] for s in new]
    return np.array([norm(s) for s in states])


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("lm") / "demo")
    lm_features.main(["--demo", "--out", out, "--seed", "5", "--feature-bound", "2", "--weight-decay", "0.01"])
    return out


def test_lm_export_shapes_and_indices(demo_export):
    arrays = load(demo_export)
    info = json.load(open(os.path.join(demo_export, "lm_features.json")))
    demo = lm_features.DEMO
    assert arrays["sft_features"].shape == (len(demo["sft"]), 3, 16)
    assert arrays["dpo_features"].shape == (len(demo["dpo"]), 2, 16)
    assert (arrays["sft_targets"] == [s["target"] for s in demo["sft"]]).all()
    assert (arrays["dpo_chosen"] == 0).all() and (arrays["dpo_rejected"] == 1).all()
    assert info["dimension"] == 16 and info["model"] == "tiny-random-seed5"
    scalars = json.load(open(os.path.join(demo_export, "instance.json")))
    assert scalars["featureBound"] == 2 and scalars["reference"]["theta"] == [0.0] * 16


def test_lm_features_are_the_claimed_hidden_states(demo_export):
    arrays = load(demo_export)
    scale = json.load(open(os.path.join(demo_export, "lm_features.json")))["scale"]
    model = lm_features.TinyTransformer(seed=5)
    tokens = model.tokenize
    for i, s in enumerate(lm_features.DEMO["sft"]):
        for k, candidate in enumerate(s["candidates"]):
            expected = reference_hidden(model, tokens(s["prompt"]) + tokens(candidate))[-1]
            assert np.allclose(arrays["sft_features"][i, k] * scale, expected, rtol=0, atol=1e-10)
    for i, p in enumerate(lm_features.DEMO["dpo"]):
        for k, response in enumerate((p["chosen"], p["rejected"])):
            expected = reference_hidden(model, tokens(p["prompt"]) + tokens(response))[-1]
            assert np.allclose(arrays["dpo_features"][i, k] * scale, expected, rtol=0, atol=1e-10)
    # Different responses give different features (the exporter does not read one position for all).
    assert np.linalg.norm(arrays["sft_features"][0, 0] - arrays["sft_features"][0, 1]) > 1e-3


def test_tiny_transformer_is_causal():
    model = lm_features.TinyTransformer(seed=1)
    ids = model.tokenize("causal prefix test")
    full = model.hidden(ids)
    for t in (1, 5, len(ids)):
        assert np.allclose(model.hidden(ids[:t]), full[:t], rtol=0, atol=1e-12)


def test_lm_feature_bound_is_tight(demo_export):
    arrays = load(demo_export)
    norms = np.concatenate([np.linalg.norm(arrays["sft_features"], axis=-1).ravel(),
                            np.linalg.norm(arrays["dpo_features"], axis=-1).ravel()])
    assert norms.max() <= 2 * (1 + 1e-12) and norms.max() >= 2 * (1 - 1e-12)


def test_lm_export_passes_the_toolkit_checks(demo_export):
    result = run("check", "--instance", demo_export)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 6 claims hold" in result.stdout


def test_lm_export_refuses_ragged_candidates(tmp_path):
    data = {"sft": [{"prompt": "a", "candidates": ["b", "c"], "target": 0},
                    {"prompt": "a", "candidates": ["b", "c", "d"], "target": 0}],
            "dpo": [{"prompt": "a", "chosen": "b", "rejected": "c"}]}
    model = lm_features.TinyTransformer()
    with pytest.raises(ValueError, match="same number"):
        lm_features.export(model.hidden, model.tokenize, data, str(tmp_path / "x"))
    assert not os.path.exists(tmp_path / "x")
