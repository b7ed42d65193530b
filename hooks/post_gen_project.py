"""Finish the project: keep the files the answers need, then set up Git and DVC."""

import contextlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

TASK = {{cookiecutter.task | tojson}}
LICENSE = {{cookiecutter.license | tojson}}
REMOTE = {{cookiecutter.dvc_remote | tojson}}
REMOTE_URL = {{cookiecutter.dvc_remote_url | tojson}}.strip()
CI_PLATFORM = {{cookiecutter.ci_platform | tojson}}
SLUG = {{cookiecutter.project_slug | tojson}}
AUTHOR = ({{cookiecutter.author_name | tojson}}, {{cookiecutter.author_email | tojson}})
SAMPLE_DATA = {"classification": "breast_cancer.csv", "regression": "diabetes.csv"}
# Set to 1 to get the files without the repository (as if Git and DVC were missing): for bakes
# that only check the files, where Git and DVC would take most of the time.
SKIP_GIT_DVC = "COOKIECUTTER_DVC_CML_SKIP_GIT_DVC"
# cookiecutter's own entry point always records the output folder in the context; cruft renders
# through cookiecutter's generate_files, which leaves it out.
RENDERED_BY_CRUFT = {{"_output_dir" not in cookiecutter}}


def keep_needed_files() -> Path:
    """Keep the task's sample data, the chosen licence, requirements and CI files; return the
    data."""
    for task, name in SAMPLE_DATA.items():
        if task != TASK:
            Path("data/raw", name).unlink()
    Path("licenses", LICENSE).rename("LICENSE")
    shutil.rmtree("licenses")
    # Cloud remotes need DVC's plugin for them, pinned in a requirements file of their own.
    pinned = REMOTE if REMOTE in ("s3", "gs", "azure") else "base"
    Path("requirements", f"{pinned}.txt").rename("requirements.txt")
    shutil.rmtree("requirements")
    if CI_PLATFORM == "gitlab":
        shutil.rmtree(".github")
    else:
        Path(".gitlab-ci.yml").unlink()
    return Path("data/raw", SAMPLE_DATA[TASK])


def comparison_render() -> bool:
    """Whether cruft renders the template only to compare it (`cruft update`, `cruft diff`).

    It renders each revision into a folder fresh from Python's tempfile, right under the system's
    temporary folder, and deletes it after the diff: a repository there would only add binary
    files to the diff. `cruft create` renders where the user asks, and gets the full set-up.
    """
    folder = Path.cwd().parent
    return (
        RENDERED_BY_CRUFT
        and folder.parent == Path(tempfile.gettempdir()).resolve()
        and re.fullmatch(r"tmp[a-z0-9_]{8}", folder.name) is not None
    )


def dvc_runner() -> Callable[..., None] | None:
    """A function running one DVC command: in this process when cookiecutter's Python has DVC
    (a second less per command than a new process), else DVC from PATH; None without DVC."""
    if importlib.util.find_spec("dvc"):
        from dvc.cli import main

        def in_process(*arguments: str, quiet: bool = True) -> None:
            with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
                code = main(list(arguments))
            if code:
                raise subprocess.CalledProcessError(code, ["dvc", *arguments])

        return in_process
    found = shutil.which("dvc")
    if not found:
        return None

    def from_path(*arguments: str, quiet: bool = True) -> None:
        output = subprocess.DEVNULL if quiet else None
        subprocess.run([found, *arguments], check=True, stdout=output)

    return from_path


def sh(*command: str) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def commit_identity(git: str) -> list[str]:
    """The user's Git identity if they have one, else the project's author from the answers."""
    configured = subprocess.run([git, "config", "user.email"], capture_output=True, text=True)
    if configured.stdout.strip():
        return []
    return ["-c", f"user.name={AUTHOR[0]}", "-c", f"user.email={AUTHOR[1]}"]


def finish_commands(sample: Path, init_git: bool) -> str:
    """The commands that finish the set-up by hand, in the project's own environment."""
    steps = [". .venv/bin/activate", *(["git init -b main"] if init_git else [])]
    steps += ["dvc init", f"dvc add {sample}"]
    if REMOTE == "local":
        steps.append(f"mkdir -p {REMOTE_URL}")
    if REMOTE != "none":
        steps.append(f"dvc remote add --default storage {REMOTE_URL}")
    steps += ["git add --all", "git commit -m 'Track data with DVC'"]
    return " && ".join(steps)


def main() -> None:
    sample = keep_needed_files()
    done, todo = [], []
    comparing = comparison_render()
    skip = comparing or os.environ.get(SKIP_GIT_DVC) == "1"
    git, dvc = (None, None) if skip else (shutil.which("git"), dvc_runner())
    if git:
        sh(git, "init", "--quiet", "-b", "main")
        done.append("Git repository on branch main")
    if git and dvc:
        # Not quiet: DVC says here how to opt out of its usage analytics.
        dvc("init", quiet=False)
        dvc("add", "--quiet", str(sample))
        done.append(f"DVC initialised; {sample} tracked by DVC")
        if REMOTE != "none":
            dvc("remote", "add", "--default", "storage", REMOTE_URL)
            done.append(f"DVC remote 'storage': {REMOTE_URL}")
        if REMOTE == "local":
            # Pushing refuses a local remote whose folder is gone (a share not mounted) rather
            # than filling a new empty one: the folder is made here, once.
            Path(REMOTE_URL).mkdir(parents=True, exist_ok=True)
    else:
        # Keep the data out of Git, as `dvc add` would, so that `dvc add` works later.
        Path("data/raw/.gitignore").write_text(f"/{sample.name}\n")
        missing = " and ".join(name for name, found in (("Git", git), ("DVC", dvc)) if not found)
        why = f"{SKIP_GIT_DVC}=1" if skip else f"{missing} not found where cookiecutter runs"
        fix = "" if skip else "install what is missing, then "
        todo.append(
            f"{why}, so the repository is not set up yet: {fix}after `make setup` run "
            f"`{finish_commands(sample, init_git=not git)}`."
        )
    if git:
        sh(git, "add", "--all")
        message = "Create project from cookiecutter-dvc-cml"
        sh(git, *commit_identity(git), "commit", "--quiet", "--no-verify", "-m", message)
        done.append("first commit")
    if comparing:
        return

    print(f"\nCreated {SLUG}/ ({TASK}):")
    for line in done:
        print(f"  - {line}")
    for line in todo:
        print(f"  ! {line}")
    print(f"\nNext:\n  cd {SLUG}\n  make setup && . .venv/bin/activate\n  dvc repro\n")


if __name__ == "__main__":
    try:
        main()
    except (OSError, subprocess.CalledProcessError) as error:
        # Keep the generated files: they are complete, only the repository set-up is unfinished.
        print(
            f"warning: setting up Git and DVC stopped ({error}); the project's files are all "
            "in place, so finish with `git init -b main`, `dvc init` and `dvc add` by hand.",
            file=sys.stderr,
        )
