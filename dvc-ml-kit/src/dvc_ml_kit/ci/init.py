"""init: adopt the pull request check in a DVC repository that dvc-ml-kit did not generate.

``dvc-ml-kit init`` at the root of a Git repository with DVC initialised and a dvc.yaml, with
nothing uncommitted: writes the CI file (GitHub's workflow, or GitLab's pipeline), adds a
``gates`` section to params.yaml when it has none, and prints the secrets and variables to set.
It overwrites nothing: a file it would write that exists already stops it before it writes any.
"""

import argparse
from importlib import resources
from pathlib import Path
from string import Template

from .. import __version__
from ..contract import known_direction
from ..errors import UserError
from ..params import read_yaml
from . import repo
from .gate import flat

# Per platform, the files init writes and the text each is made from (in ../adopt).
PLATFORMS = {
    "github": {
        ".github/workflows/dvc-pull-request.yml": "pull-request.yml",
        ".github/workflows/dvc-publish.yml": "publish.yml",
    },
    "gitlab": {".gitlab-ci.yml": "gitlab-ci.yml"},
}
PYTHON = "3.11"
# Per kind of DVC remote: DVC's plugin, and the secrets (GitHub) or CI/CD variables (GitLab)
# that hold its credentials.
REMOTES = {
    "s3": ("s3", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]),
    "gs": ("gs", ["GCP_CREDENTIALS"]),
    "azure": ("azure", ["AZURE_STORAGE_CONNECTION_STRING"]),
}
GITHUB_TRUSTED = (
    "# Runs from forks (and Dependabot's) get no secrets: they reproduce what needs no DVC "
    "remote.\n      TRUSTED: ${{ github.event.pull_request.head.repo.full_name == "
    "github.repository && github.actor != 'dependabot[bot]' && '1' || '0' }}"
)
UNREACHABLE = (
    "# The DVC remote ({url}) is not one CI runners reach: results are reproduced, not "
    "restored, and nothing is pushed."
)
GCP_STEP = """
      - name: Google Cloud credentials for the DVC remote
        env:
          GCP_CREDENTIALS: ${{ secrets.GCP_CREDENTIALS }}
        run: |
          printf '%s' "$GCP_CREDENTIALS" > "$RUNNER_TEMP/gcp.json"
          echo "GOOGLE_APPLICATION_CREDENTIALS=$RUNNER_TEMP/gcp.json" >> "$GITHUB_ENV"
"""
PUBLISH_IF = {
    "publish.yml": (
        "\n    # The DVC remote is not one CI runners reach: after switching to a cloud remote,"
        "\n    # set the repository variable PUBLISH to true.\n    if: vars.PUBLISH == 'true'"
    ),
    "gitlab-ci.yml": ' && $PUBLISH == "true"',
}
GATES = """
# Quality gates for pull requests (dvc-ml-kit): a pull request fails when a metric is below its
# minimum, above its maximum, or worse than on the base branch by more than its max_drop (in the
# metric's own units). Metrics are named as `dvc metrics show` shows them (nested keys joined
# with dots); a gate applies from the commit that sets it on the base branch.
gates:
  minimum: {{}}
  maximum: {{}}
  max_drop: {{}}
  # Which way is better, for metrics dvc-ml-kit does not know by name: higher or lower. A gate
  # on a metric whose direction is not known is refused.{unknown}
  directions: {{}}
"""


def check_repository() -> None:
    """Refuse, touching nothing, outside the root of a Git repository with DVC and a pipeline,
    or with uncommitted changes."""
    root = repo.git("rev-parse", "--show-toplevel")
    if root is None:
        raise UserError(
            "this is not a Git repository: run `dvc-ml-kit init` at the root of a Git repository "
            "with DVC initialised (`git init && dvc init`) and a dvc.yaml"
        )
    if Path(root.strip()).resolve() != Path.cwd().resolve():
        raise UserError(f"run `dvc-ml-kit init` at the repository's root, {root.strip()}")
    if not Path(".dvc").is_dir():
        raise UserError("DVC is not initialised here: run `dvc init`, commit, and run again")
    if not Path("dvc.yaml").is_file():
        raise UserError(
            "there is no dvc.yaml: the check reproduces a DVC pipeline, so add its stages first "
            "(`dvc stage add`), commit, and run again"
        )
    status = repo.git("status", "--porcelain", "--untracked-files=all")
    if status:
        changed = ", ".join(line[3:] for line in status.splitlines()[:5])
        raise UserError(
            f"the working tree has uncommitted changes ({changed}): commit or stash them first, "
            "so that what init writes is a change of its own"
        )


def remote() -> tuple[str | None, str | None]:
    """The DVC remote's URL and its kind (s3, gs, azure), or None for either."""
    url = repo.remote_url()
    scheme = url.split("://", 1)[0] if url and "://" in url else None
    return url, scheme if scheme in REMOTES else None


def workflow(source: str, python: str) -> str:
    """The text of a CI file made from ``source`` (of ../adopt), for this repository's DVC
    remote."""
    url, kind = remote()
    plugin, secrets = REMOTES[kind] if kind else (None, [])
    template = resources.files("dvc_ml_kit") / "adopt" / source
    values = {
        "version": __version__,
        "python": python,
        "plugin": f' "dvc[{plugin}]"' if plugin else "",
        # Publishing pushes to the DVC remote: one CI cannot reach waits for the variable.
        "publish_if": "" if kind else PUBLISH_IF.get(source, ""),
    }
    keys = "".join(f"\n      {name}: ${{{{ secrets.{name} }}}}" for name in secrets if kind != "gs")
    values["env"] = f"\n    env:{keys}" if keys else ""
    values["gcp"] = (
        '\n    - export GOOGLE_APPLICATION_CREDENTIALS="$GCP_CREDENTIALS" # a File variable'
        if kind == "gs"
        else ""
    )
    if source != "gitlab-ci.yml":
        values |= {
            "trusted": GITHUB_TRUSTED
            if kind
            else UNREACHABLE.format(url=url or "none") + '\n      TRUSTED: "0"',
            "environment": (
                "\n    # The DVC remote's keys are secrets of this environment (Settings → "
                "Environments).\n    environment: dvc-remote"
                if secrets
                else ""
            ),
            "environment_note": " and the DVC remote's keys (environment dvc-remote)"
            if secrets
            else "",
            "secrets": keys,
        }
        text = Template(template.read_text(encoding="utf-8")).substitute(values)
        if kind == "gs":
            anchor = "\n      - name: Install the repository's requirements and dvc-ml-kit"
            text = text.replace(anchor, GCP_STEP.rstrip("\n") + anchor, 1)
        return text
    same = '[ "$CI_MERGE_REQUEST_SOURCE_PROJECT_ID" = "$CI_MERGE_REQUEST_PROJECT_ID" ]'
    if kind:
        extra = ' GOOGLE_APPLICATION_CREDENTIALS="$GCP_CREDENTIALS"' if kind == "gs" else ""
        trusted = (
            f'if {same} && [ -n "${{{secrets[-1]}:-}}" ]; then export TRUSTED=1{extra}; '
            "else export TRUSTED=0; fi"
        )
    else:
        trusted = "export TRUSTED=0 # " + UNREACHABLE.format(url=url or "none")[2:]
    values["trusted"] = trusted
    return Template(template.read_text(encoding="utf-8")).substitute(values)


def gates_block() -> str:
    """A gates section with no gate set, naming the metrics whose direction must be stated
    before they can be gated."""
    names = sorted(
        name
        for content in repo.metrics_values().values()
        for name, value in flat(content).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    )
    unknown = [name for name in names if known_direction(name) is None]
    listed = f"\n  # Not known: {', '.join(unknown)}." if unknown else ""
    return GATES.format(unknown=listed)


def whole_file_readers(params: Path) -> list[str]:
    """The stages of dvc.yaml whose params name the whole file ``params`` (``- params.yaml:``
    with no keys), so that any key added to it changes their dependencies."""
    found = []
    for name, stage in (repo.pipeline().get("stages") or {}).items():
        for entry in (stage or {}).get("params") or []:
            key = params.as_posix()
            if isinstance(entry, dict) and key in entry and not entry[key]:
                found.append(name)
    return found


def init(platform: str, python: str) -> list[str]:
    """Write the CI file and the gates; return what to tell the user."""
    check_repository()
    for target in map(Path, PLATFORMS[platform]):
        if target.exists():
            raise UserError(
                f"{target} exists already, and init overwrites nothing: move it aside and run "
                "again (then merge your own jobs back into the new file)"
            )
    texts = {
        Path(target): workflow(source, python) for target, source in PLATFORMS[platform].items()
    }
    params = Path("params.yaml")
    current = read_yaml(params) if params.is_file() else None  # before writing: may refuse
    said = []
    for target, text in texts.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        said.append(f"wrote {target}")
    if isinstance(current, dict) and "gates" in current:
        said.append("params.yaml has a gates section already: kept as it is")
    else:
        existing = params.read_text(encoding="utf-8") if params.is_file() else ""
        separator = "" if not existing or existing.endswith("\n") else "\n"
        params.write_text(existing + separator + gates_block(), encoding="utf-8")
        said.append(
            "added a gates section to params.yaml (no gate set yet: set them there)"
            if existing
            else "wrote params.yaml with a gates section (no gate set yet: set them there)"
        )
        whole = whole_file_readers(params)
        if whole:
            said.append(
                f"stage {', '.join(whole)} of dvc.yaml depends on every key of params.yaml, the "
                "gates too: it re-runs once for the new section, and for each change of a gate; "
                "list the keys it reads under its params to avoid that"
            )
    url, kind = remote()
    secrets = REMOTES[kind][1] if kind else []
    if platform == "github":
        if secrets:
            said.append(
                "set the DVC remote's credentials as secrets of a GitHub environment named "
                f"dvc-remote (Settings → Environments): {', '.join(secrets)}"
            )
        said.append(
            "the report comment, the version tags and the releases use the workflows' own "
            "token: nothing else to set for them"
        )
    else:
        said.append(
            "set the CI/CD variable GITLAB_TOKEN (masked): a project access token with the api "
            "scope, which posts the report note and creates releases; and CI_PUSH_TOKEN "
            "(masked, protected): one with the write_repository scope, which pushes version tags"
        )
        if secrets:
            kinds = " (GCP_CREDENTIALS of type File)" if kind == "gs" else ""
            said.append(
                "set the DVC remote's credentials as CI/CD variables (masked): "
                f"{', '.join(secrets)}{kinds}"
            )
    if not kind:
        said.append(
            f"the DVC remote ({url or 'none'}) is not one CI runners reach: the check reproduces "
            "what changed without restoring or pushing results, and publishing waits for the "
            "variable PUBLISH=true, to set once the remote is a cloud one (s3, gs, azure)"
        )
    added = " ".join(str(target) for target in texts)
    said.append(
        f'commit them: git add {added} params.yaml && git commit -m "CI/CD with dvc-ml-kit"'
    )
    return said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--platform",
        choices=list(PLATFORMS),
        default="github",
        help="where the repository is hosted",
    )
    parser.add_argument("--python", default=PYTHON, help="the Python version CI runs")
    args = parser.parse_args()
    for line in init(args.platform, args.python):
        print(f"init: {line}")
