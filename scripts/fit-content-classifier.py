#!/usr/bin/env python3
"""Fits ContentClassifier's two logistic regressions (speech against the rest; music against other) on the
features of a training set that ContentClassifierTests/trainingFeatures writes (made like the test set from
voices, sentences, soundtrack excerpts and MIDI renders that no test uses: the tests measure on material the
fit never saw), and prints the Swift weights to paste.

  FERRY_ANALYTICS_TRAIN=/tmp/train.tsv swift test --filter ContentClassifierTests/trainingFeatures
  python3 scripts/fit-content-classifier.py /tmp/train.tsv
"""
import sys
import numpy as np

NAMES = ["lowEnergyRatio", "modulation", "voicedFraction", "voicedRun", "pitchMotion", "harmonicity", "toggles",
         "energySpread", "tonalConcentration", "centroidSpread", "speechBandDepth"]


def features(row):
    level, ler, mod, voi, run, mot, har, tog, spr, ton, cen, dep = row
    return [ler, mod, voi, min(run, 1.5), min(mot, 3.0), har, tog, spr, ton, cen, dep]


def fit(x, y, l2=0.01, steps=20000, rate=0.1):
    mean, std = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / std
    w = np.zeros(z.shape[1])
    b = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= rate * (z.T @ (p - y) / len(y) + l2 * w)
        b -= rate * float(np.mean(p - y))
    # Back to raw features: w·(x-mean)/std + b.
    raw = w / std
    return raw, b - float(raw @ mean), float(np.mean((z @ w + b > 0) == (y > 0.5)))


rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
labels = [r[0] for r in rows]
values = [[float(v) for v in r[1:]] for r in rows]
keep = [i for i, v in enumerate(values) if labels[i] != "silence" and v[0] > -60]
x = np.array([features(values[i]) for i in keep])
speech = np.array([1.0 if labels[i] == "speech" else 0.0 for i in keep])
w, b, acc = fit(x, speech)
print(f"// speech against the rest: {acc * 100:.1f}% of {len(keep)} training hops")
print("static let speechWeights: [Double] = [" + ", ".join(f"{v:.4f}" for v in w) + f"]\nstatic let speechBias = {b:.4f}")
rest = [j for j, i in enumerate(keep) if labels[i] != "speech"]
music = np.array([1.0 if labels[keep[j]] == "music" else 0.0 for j in rest])
w2, b2, acc2 = fit(x[rest], music)
print(f"// music against other: {acc2 * 100:.1f}% of {len(rest)} training hops")
print("static let musicWeights: [Double] = [" + ", ".join(f"{v:.4f}" for v in w2) + f"]\nstatic let musicBias = {b2:.4f}")
