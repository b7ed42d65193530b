"""Fit a scaled logistic regression on the training rows."""

import pickle
from pathlib import Path

import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

params = yaml.safe_load(Path("params.yaml").read_text())["fit"]
frame = pd.read_csv("work/features.csv")
train = frame[~frame["test"]]
model = make_pipeline(
    StandardScaler(), LogisticRegression(C=params["C"], max_iter=params["max_iter"])
)
model.fit(train.drop(columns=["target", "test"]), train["target"])
with open("work/classifier.pkl", "wb") as file:
    pickle.dump(model, file)
