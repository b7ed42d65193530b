"""Shuffle scikit-learn's wine data and mark a test share of it."""

from pathlib import Path

import yaml
from sklearn.datasets import load_wine

params = yaml.safe_load(Path("params.yaml").read_text())["featurize"]
frame = load_wine(as_frame=True).frame.sample(frac=1.0, random_state=params["seed"])
frame["test"] = [index < len(frame) * params["test_share"] for index in range(len(frame))]
Path("work").mkdir(exist_ok=True)
frame.to_csv("work/features.csv", index=False)
