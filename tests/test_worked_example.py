"""Slow tier: the generated README's worked example, carried out as a data scientist would.

The engineered feature, the model entry and its params come from the README's own "Features and
models" section, so the README and what works cannot drift apart: add the ratio feature and
ExtraTrees, `dvc repro`, `make test`, a publish dry-run, `predict` on the raw CSV; then the same
feature on the Dask engine (a cluster started on this machine).
"""

import os
import re

import pytest
import yaml

from conftest import SAMPLE, TOOLS, activated, bake, run

pytestmark = pytest.mark.slow
RAW = f"data/raw/{SAMPLE['classification']}"
MODULE = "diagnosis_model"


def section(readme: str, title: str) -> str:
    return readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    path = bake(tmp_path_factory.mktemp("example"), task="classification")
    run("make", "setup", cwd=path, env={"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"})
    activated(path, "dvc repro && git add -A && git commit -qm 'First run'")
    return path


def sh(project, script: str, check: bool = True):
    return activated(project, script, check)


def test_the_readme_example_adds_a_feature_and_a_model_on_both_engines(project):
    example = section((project / "README.md").read_text(), "Features and models")
    function = re.search(r"```python\n(def add_features.*?)```", example, re.S).group(1)
    entry = re.search(r'`("extra_trees": \w+,)`', example).group(1)
    settings = yaml.safe_load(re.search(r"```yaml\n(.*?)```", example, re.S).group(1))["train"]

    features = project / "src" / MODULE / "features.py"
    text = features.read_text()
    features.write_text(text[: text.index("def add_features")] + function)
    models = project / "src" / MODULE / "models.py"
    text = models.read_text().replace(
        "from sklearn.ensemble import (\n",
        "from sklearn.ensemble import (\n    ExtraTreesClassifier,\n",
    )
    text = text.replace(
        '        "hist_gradient_boosting": HistGradientBoostingClassifier,\n',
        f'        "hist_gradient_boosting": HistGradientBoostingClassifier,\n        {entry}\n',
        1,
    )
    models.write_text(text)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["estimator"] = settings["estimator"]
    params["train"]["hyperparameters"].update(settings["hyperparameters"])
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    # The local engine's environment holds no Dask or LightGBM.
    found = "import importlib.util as u; print([u.find_spec(m) for m in ('dask', 'lightgbm')])"
    assert sh(project, f'python -c "{found}"').stdout.strip() == "[None, None]"
    ran = sh(project, "dvc repro")
    assert "train: fitted ExtraTreesClassifier" in ran.stdout, ran.stdout
    assert "Stage 'prepare' didn't change" in ran.stdout
    model = "import pickle; m = pickle.load(open('models/model.pkl', 'rb'))"
    inputs = sh(project, f"python -c \"{model}; print(list(m.named_steps['columns'].numeric))\"")
    assert "'area_ratio'" in inputs.stdout
    assert "passed" in sh(project, "make test").stdout
    sh(project, "make lint")
    sh(project, "git add -A && git commit -qm 'Area ratio and extra trees'")
    published = sh(project, "DRY_RUN=1 make ci-publish")
    assert "created model@v1.0.0 locally" in published.stdout, published.stdout
    # The bundle scores the raw CSV: area_ratio is computed from its columns, not read, and
    # its card says so.
    card = (project / "dist/model-v1.0.0/model_card.md").read_text()
    reads, adds = card.split("The project's features add these")
    assert "| `area_ratio` |" not in reads and "| `area_ratio` | number |" in adds
    scored = sh(project, f"dvc-ml-kit predict dist/model-v1.0.0 {RAW} ../scored.csv")
    assert "scored 569 rows" in scored.stdout
    same = (
        "import pickle, pandas; m = pickle.load(open('models/model.pkl', 'rb')); "
        f"rows = pandas.read_csv('{RAW}'); s = pandas.read_csv('../scored.csv'); "
        "print((s['prediction'] == m.predict(rows)).all())"
    )
    assert sh(project, f'python -c "{same}"').stdout.strip() == "True"

    # The Dask engine: ExtraTrees is refused in one sentence; gradient boosting gets the feature.
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["compute"]["engine"] = "dask"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # A project on the local engine has no Dask: the stage names the one command that adds it.
    missing = sh(project, "dvc repro", check=False)
    assert missing.returncode != 0
    sentence = "compute.engine is dask, but dask is not installed here: run `make setup-dask`"
    assert sentence in missing.stderr, missing.stderr
    sh(project, "make setup-dask")
    refused = sh(project, "dvc repro", check=False)
    assert refused.returncode != 0
    assert "error: train.estimator is 'extra_trees', but compute.engine dask trains" in (
        refused.stderr
    ), refused.stderr
    assert "Traceback" not in missing.stderr + refused.stderr
    params["train"]["estimator"] = "hist_gradient_boosting"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert "train: fitted BoostedTrees" in sh(project, "dvc repro").stdout
    lightgbm = sh(project, f'python -c "{model}; print(list(m[-1].feature_names_in_))"')
    assert "'area_ratio'" in lightgbm.stdout
    sh(project, "git add -A && git commit -qm 'On the Dask engine'")
    assert "created model@v1.1.0 locally" in sh(project, "DRY_RUN=1 make ci-publish").stdout
    sh(project, f"dvc-ml-kit predict dist/model-v1.1.0 {RAW} ../scored.csv")
    assert sh(project, f'python -c "{same}"').stdout.strip() == "True"


def test_a_computing_librarys_new_version_reruns_the_stages_and_a_dev_tools_does_not(project):
    sh(project, "git reset -q --hard && dvc checkout --quiet --force")
    assert "up to date" in sh(project, "dvc status").stdout
    requirements = project / "requirements.txt"
    pinned = requirements.read_text()

    def bump(name: str) -> str:
        found = re.search(rf"^{name}==(\S+)$", pinned, re.M)
        requirements.write_text(pinned.replace(found.group(0), f"{name}==999.0.0"))
        return sh(project, "dvc-ml-kit pins && dvc status").stdout

    assert "up to date" in bump("ruff")
    assert "up to date" in bump("pytest")
    for library in ("scikit-learn", "dvc-ml-kit"):
        status = bump(library)
        assert re.search(r"modified:\s+pipeline-requirements\.txt", status), status
        for stage in ("prepare", "train", "evaluate", "copy_evaluation"):
            assert f"{stage}:" in status, status
    sh(project, "git checkout -- requirements.txt pipeline-requirements.txt")
