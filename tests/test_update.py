"""Slow tier: a project made with `cruft create` takes a template change with `cruft update`.

The template is a clone of this repository at its last commit (uncommitted changes are not in
it); the change is committed to the clone, as a maintainer would push it.
"""

import json
import os
import tempfile
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import DEFAULT_SLUG, SAMPLE, SKIP_GIT_DVC, TEMPLATE, TOOLS, bake, run

pytestmark = pytest.mark.slow
CRUFT = str(TOOLS / "cruft")
# Explicit, so that a variable exported in the shell changes nothing: the hook must tell cruft's
# comparison renders apart by itself.
WITH_SET_UP = {SKIP_GIT_DVC: "0"}
TEMPLATE_LINE = "Updated by the template: a line only `cruft update` can have brought."


def sh(project: Path, script: str) -> str:
    """Run ``script`` in bash in the project's environment (made on first use, as its README
    says); return all it printed."""
    env = {**WITH_SET_UP, "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"}
    script = f"make setup && . .venv/bin/activate && {script}"
    result = run("bash", "-e", "-c", script, cwd=project, env=env)
    return result.stdout + result.stderr


def replace_once(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``path``, as a user or maintainer edits a file."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} in {path.name}"
    path.write_text(text.replace(old, new))


def commit(folder: Path, message: str) -> None:
    run("git", "add", "--all", cwd=folder)
    run("git", "commit", "--quiet", "-m", message, cwd=folder)


def head(folder: Path) -> str:
    return run("git", "rev-parse", "HEAD", cwd=folder).stdout.strip()


def test_update_brings_the_template_change_and_keeps_the_users_work(tmp_path):
    template = tmp_path / "template"
    run("git", "clone", "--quiet", str(TEMPLATE), str(template), cwd=tmp_path)
    # A branch at this repository's commit, whatever the clone checked out (CI checks out a
    # detached merge commit).
    run("git", "checkout", "--quiet", "-B", "template", head(TEMPLATE), cwd=template)

    # A user creates the project with cruft and commits the .cruft.json it adds.
    projects = tmp_path / "projects"
    projects.mkdir()
    created = run(CRUFT, "create", "--no-input", str(template), cwd=projects, env=WITH_SET_UP)
    assert "first commit" in created.stdout, created.stdout
    project = projects / DEFAULT_SLUG
    commit(project, "Track template updates with cruft")

    # ...brings data of their own and a setting of their own, and runs the pipeline on them.
    sample = (project / "data/raw" / SAMPLE["classification"]).read_text().splitlines()
    own_data = "\n".join(sample[:301]) + "\n"
    (project / "data/raw/clinic.csv").write_text(own_data)
    params = project / "params.yaml"
    replace_once(params, f"file: data/raw/{SAMPLE['classification']}", "file: data/raw/clinic.csv")
    replace_once(params, "learning_rate: 0.1\n", "learning_rate: 0.05\n")
    assert "Running stage 'train'" in sh(project, "dvc add data/raw/clinic.csv && dvc repro")
    commit(project, "Own data, slower learning, results")
    users_params = params.read_text()

    # The maintainer changes documentation, a Makefile comment and a params.yaml comment.
    generated = template / "{{cookiecutter.project_slug}}"
    with (generated / "README.md").open("a") as readme:
        readme.write(f"\n{TEMPLATE_LINE}\n")
    with (generated / "Makefile").open("a") as makefile:
        makefile.write("# A comment from the template.\n")
    with (generated / "params.yaml").open("a") as template_params:
        template_params.write("# Gates are checked on the test split only.\n")
    commit(template, "Explain more")

    updated = run(CRUFT, "update", "-y", cwd=project, env=WITH_SET_UP)
    output = updated.stdout + updated.stderr
    # The hook did no Git or DVC set-up in cruft's two comparison renders: it prints nothing there.
    assert "Created " not in output and "Initialized DVC" not in output, output

    assert (project / "README.md").read_text().endswith(f"\n{TEMPLATE_LINE}\n")
    assert (project / "Makefile").read_text().endswith("# A comment from the template.\n")
    assert params.read_text() == users_params + "# Gates are checked on the test split only.\n"
    assert (project / "data/raw/clinic.csv").read_text() == own_data
    assert (project / "data/raw/clinic.csv.dvc").is_file()
    status = run("git", "status", "--porcelain", cwd=project).stdout.splitlines()
    assert {line[3:] for line in status} == {".cruft.json", "Makefile", "README.md", "params.yaml"}
    assert not any(line.startswith(("U", "AA", "DD")) for line in status), status
    assert run("git", "ls-files", "--others", "--", "*.rej", cwd=project).stdout == ""
    cruft_state = json.loads((project / ".cruft.json").read_text())
    assert cruft_state["commit"] == head(template)

    # Only documentation, a Makefile comment and a comment in params.yaml changed: nothing runs.
    repro = sh(project, "dvc repro")
    assert "Running stage" not in repro, repro
    assert "Data and pipelines are up to date." in sh(project, "dvc status")


def test_skip_list_covers_what_the_pipeline_writes(tmp_path):
    """Every output in dvc.yaml, and dvc.lock, is out of reach of `cruft update`."""
    project = bake(tmp_path, set_up=False)
    skip = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["cruft"]["skip"]
    assert {".git", ".dvc", "data/raw", "dvc.lock"} <= set(skip)
    outputs = {"dvc.lock"}
    for stage in yaml.safe_load((project / "dvc.yaml").read_text())["stages"].values():
        for kind in ("outs", "metrics", "plots"):
            outputs |= {
                next(iter(out)) if isinstance(out, dict) else out for out in stage.get(kind, [])
            }
    uncovered = {
        output
        for output in outputs
        if not any(
            Path(output) == Path(entry) or Path(entry) in Path(output).parents for entry in skip
        )
    }
    assert uncovered == set()


def test_a_cookiecutter_bake_into_a_temporary_folder_is_still_set_up():
    """Only cruft's comparison renders skip Git and DVC, not every bake under the temp folder."""
    with tempfile.TemporaryDirectory() as folder:
        project = bake(Path(folder))
        assert (project / ".git").is_dir() and (project / ".dvc" / "config").is_file()
