"""Score the test rows: nested JSON metrics, a TOML file, TSV and JSON plot data, an image."""

import json
import pickle
import struct
import zlib
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, log_loss

Path("results/eval").mkdir(parents=True, exist_ok=True)
frame = pd.read_csv("work/features.csv")
with open("work/classifier.pkl", "rb") as file:
    model = pickle.load(file)
scores = {}
for split, rows in (("train", frame[~frame["test"]]), ("test", frame[frame["test"]])):
    features = rows.drop(columns=["target", "test"])
    probabilities = model.predict_proba(features)
    scores[split] = {
        "acc": round(accuracy_score(rows["target"], model.predict(features)), 6),
        "loss": round(log_loss(rows["target"], probabilities, labels=model.classes_), 6),
    }
with open("results/eval/scores.json", "w") as file:
    json.dump(scores, file, indent=2)
coefficients = model[-1].coef_
with open("results/size.toml", "w") as file:
    file.write(f"[model]\nweights_over_0_1 = {int((abs(coefficients) > 0.1).sum())}\n")

test = frame[frame["test"]]
confidence = model.predict_proba(test.drop(columns=["target", "test"])).max(axis=1)
right = model.predict(test.drop(columns=["target", "test"])) == test["target"].to_numpy()
with open("results/eval/coverage.tsv", "w") as file:
    file.write("threshold\taccuracy\n")
    for step in range(10):
        kept = confidence >= step / 10
        file.write(f"{step / 10}\t{right[kept].mean() if kept.any() else 1.0:.4f}\n")
calibration = [
    {
        "predicted": round(low + 0.1, 2),
        "observed": round(float(right[(confidence >= low) & (confidence < low + 0.2)].mean()), 4),
    }
    for low in (0.4, 0.6, 0.8)
    if ((confidence >= low) & (confidence < low + 0.2)).any()
]
with open("results/eval/calibration.json", "w") as file:
    json.dump({"calibration": calibration}, file, indent=2)


def png(width: int, pixels: bytes) -> bytes:
    """A greyscale PNG, one row of ``width`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" + pixels))
        + chunk(b"IEND", b"")
    )


counts = test["target"].value_counts().sort_index()
with open("results/eval/classes.png", "wb") as file:
    file.write(png(len(counts), bytes(int(255 * n / counts.max()) for n in counts)))
