"""The published bundle: it loads what was saved, and refuses altered files or unexpected types."""

import os
import pickle
import shutil
import subprocess
import sys
from functools import partial

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from dvc_ml_kit.errors import (
    UserError,
    run,
)
from dvc_ml_kit.model.bundle import (
    SUMS_FILE,
    features,
    load_bundle,
    model_card,
    sha256,
    stable_skops,
    write_bundle,
)
from dvc_ml_kit.model.predict import (
    main,
    predict,
)
from registry import card_info, train

INFO = {"artifact": "model", "version": "v1.0.0", "task": "classification", "id_column": "id"}


# Small models: what is tested is the bundle, not the fit.
SMALL = {
    "linear": None,
    "random_forest": {"n_estimators": 10},
    "hist_gradient_boosting": {"max_iter": 20},
}


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    level = rng.normal(size=80)
    return pd.DataFrame(
        {
            "id": range(80),
            "level": level,
            "kind": rng.choice(["a", "b"], size=80),
            "label": np.where(level > 0, "yes", "no"),
        }
    )


@pytest.fixture(scope="module", params=list(SMALL))
def model(request, rows):
    """Each estimator, fitted once for all the tests of this file."""
    return train(
        rows.drop(columns=["id"]),
        task="classification",
        target="label",
        estimator=request.param,
        hyperparameters=SMALL[request.param],
        seed=0,
    )


@pytest.fixture(scope="module")
def written(model, tmp_path_factory):
    """Each estimator's bundle, written once: saving a model takes a while (skops)."""
    folder = tmp_path_factory.mktemp("written") / "bundle"
    write_bundle(folder, model, INFO, "# card\n", {"model": {}})
    return folder


@pytest.fixture
def folder(written, tmp_path):
    """A copy of the written bundle, for one test to read or alter."""
    return shutil.copytree(written, tmp_path / "bundle")


def test_every_estimator_round_trips_and_predicts(folder, rows):
    model, info = load_bundle(folder)
    assert info == INFO
    predictions = predict(model, rows, info)
    assert list(predictions.columns) == ["id", "prediction", "probability_no", "probability_yes"]
    assert (predictions["prediction"] == rows["label"]).mean() > 0.8


def test_altered_file_is_refused(folder):
    with open(folder / "model_card.md", "a") as file:
        file.write("edited\n")
    with pytest.raises(UserError, match=r"model_card.md does not match its checksum"):
        load_bundle(folder)


def test_extra_file_is_refused(folder):
    (folder / "extra.pkl").write_bytes(b"x")
    with pytest.raises(UserError, match=rf"extra.pkl is not listed in {SUMS_FILE}"):
        load_bundle(folder)


@pytest.mark.parametrize(
    "function", [os.system, partial(os.system, "true")], ids=["bare", "partial"]
)
def test_model_with_an_unexpected_type_is_refused(tmp_path, function):
    write_bundle(tmp_path / "b", make_pipeline(FunctionTransformer(function)), INFO, "", {})
    with pytest.raises(UserError, match=r"may not hold \(.*posix\.system"):
        load_bundle(tmp_path / "b")


def test_missing_input_column_is_a_user_error(folder, rows):
    model, info = load_bundle(folder)
    with pytest.raises(UserError, match="the input lacks columns the model needs: kind"):
        predict(model, rows.drop(columns=["kind"]), info)


def test_rows_that_do_not_fit_are_a_user_error(folder, rows):
    model, info = load_bundle(folder)
    with pytest.raises(UserError, match="the input has no rows to score"):
        predict(model, rows.iloc[:0], info)
    text = rows.astype({"level": object})
    text.loc[0, "level"] = "high"
    with pytest.raises(UserError, match="the input's values do not fit the model"):
        predict(model, text, info)


def resum(folder, *lines: str) -> None:
    """Rewrite SHA256SUMS: its true lines for the bundle's files, then ``lines``."""
    sums = [f"{sha256(path)}  {path.name}" for path in sorted(folder.iterdir())]
    sums = [line for line in sums if not line.endswith(f"  {SUMS_FILE}")]
    (folder / SUMS_FILE).write_text("\n".join([*sums, *lines]) + "\n")


@pytest.mark.parametrize("name", ["../outside.txt", "/etc/hostname", "sub/file", ".."])
def test_checksums_naming_files_outside_the_bundle_are_refused(folder, name):
    resum(folder, f"{'0' * 64}  {name}")
    with pytest.raises(UserError, match="which is not a file of the bundle's own folder"):
        load_bundle(folder)


def test_binary_mode_checksums_are_accepted_and_malformed_lines_refused(folder):
    text = (folder / SUMS_FILE).read_text()
    (folder / SUMS_FILE).write_text(text.replace("  ", " *"))  # `sha256sum -b` writes this
    load_bundle(folder)
    (folder / SUMS_FILE).write_text(text + "not a checksum line\n")
    with pytest.raises(UserError, match=r"line \d+ of .* is not '<sha256>  <file>'"):
        load_bundle(folder)


@pytest.mark.parametrize("content", ["{not json", '{"artifact": "model"}', "[]"])
def test_a_damaged_bundle_json_with_matching_checksums_is_refused(folder, content):
    (folder / "bundle.json").write_text(content)
    resum(folder)
    with pytest.raises(UserError, match="bundle.json (is not a readable JSON file|lacks )"):
        load_bundle(folder)


def test_a_pickle_in_place_of_the_model_with_matching_checksums_is_refused(folder):
    (folder / "model.skops").write_bytes(pickle.dumps({"not": "skops"}))
    resum(folder)
    with pytest.raises(UserError, match="model.skops is not a skops model file"):
        load_bundle(folder)


def test_the_model_card_lists_the_features(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "level": rng.normal(size=60),
            "member": pd.array(rng.random(60) < 0.5, dtype="boolean"),
            "joined": pd.date_range("2024-01-01", periods=60, freq="D"),
            "kind": rng.choice(["a", "b"], size=60),
            "label": rng.choice(["yes", "no"], size=60),
        }
    )
    model = train(
        frame,
        task="classification",
        target="label",
        estimator="hist_gradient_boosting",
        hyperparameters={"max_iter": 5},
        seed=0,
    )
    listed = features(model)
    assert listed == [
        {"column": "level", "kind": "number"},
        {"column": "member", "kind": "yes/no"},
        {"column": "joined", "kind": "date"},
        {"column": "kind", "kind": "category"},
    ]
    info = card_info(listed, id_column="id")
    card = model_card(info, {"model": {"roc_auc": 0.9}, "baseline": {"roc_auc": 0.5}})
    assert "reads these 4 columns" in card
    assert "| `member` | yes/no |" in card and "| `joined` | date |" in card
    # The bundle loads with the project's own first step trusted, and scores raw text.
    write_bundle(tmp_path / "bundle", model, info, card, {"model": {}})
    loaded, _ = load_bundle(tmp_path / "bundle")
    raw = frame.astype({"member": object, "joined": str})
    raw["member"] = raw["member"].map({True: "yes", False: "no"})
    scored = predict(loaded, raw, info)
    assert list(scored["prediction"]) == list(model.predict(frame))


def test_a_batch_scores_categories_as_training_saw_them_and_warns_of_new_ones(
    tmp_path, monkeypatch, capsys
):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"level": rng.normal(size=150), "zone": rng.choice(["A1", "7"], 150)})
    frame["label"] = np.where(frame["level"] + 3 * (frame["zone"] == "7") > 1, "yes", "no")
    model = train(
        frame,
        task="classification",
        target="label",
        estimator="linear",
        hyperparameters={},
        seed=0,
    )
    write_bundle(tmp_path / "bundle", model, INFO, "# card\n", {"model": {}})
    # In this batch the category column looks like numbers (7, a gap): it is still a category.
    batch = tmp_path / "rows.csv"
    batch.write_text("id,level,zone\n1,0.5,7\n2,-1,\n3,0.2,Z9\n", encoding="utf-8")
    output = tmp_path / "scored.csv"
    argv = ["predict", str(tmp_path / "bundle"), str(batch), str(output)]
    monkeypatch.setattr(sys, "argv", argv)
    assert run(main) == 0
    scored = pd.read_csv(output)
    same_rows = pd.DataFrame({"level": [0.5, -1, 0.2], "zone": ["7", None, "Z9"]})
    expected = model.predict_proba(same_rows)[:, 1].round(6)
    np.testing.assert_allclose(scored["probability_yes"], expected)
    assert list(scored["id"]) == [1, 2, 3]
    warning = "column 'zone': 1 of 3 rows hold values the model did not learn (such as 'Z9')"
    assert warning in capsys.readouterr().err


def test_the_model_file_has_the_same_bytes_each_time_it_is_written(model, tmp_path):
    """A publish rerun on a fresh runner builds the bundle again and must get the digest the
    version's tag records: the model file (a pickle, as train writes it) loaded in another
    process (other ids, another hash seed) and written there gives the same bytes, and they
    load as the model."""
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    model = pickle.loads((tmp_path / "model.pkl").read_bytes())  # as publish loads it
    script = (
        "import pickle, sys; from dvc_ml_kit.model.bundle import stable_skops; "
        "sys.stdout.buffer.write(stable_skops(pickle.load(open('model.pkl', 'rb'))))"
    )
    tests = os.path.dirname(__file__)
    written = [
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": tests},
        ).stdout
        for seed in ("1", "2")
    ]
    assert written[0] == written[1] == stable_skops(model)
    folder = tmp_path / "bundle"
    write_bundle(folder, model, INFO, "# card\n", {"model": {}})
    assert (folder / "model.skops").read_bytes() == written[0]
    loaded, _ = load_bundle(folder)
    rows = pd.DataFrame({"level": [-1.0, 1.0], "kind": ["a", "b"]})
    assert (loaded.predict_proba(rows) == model.predict_proba(rows)).all()
