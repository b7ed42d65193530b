"""Every question the CI jobs ask Git and DVC, and every command they run: the one module that
starts subprocesses. Paths that dvc.yaml knows (the model, the metrics, the plots) are read from it.
"""

import copy
import functools
import json
import os
import shutil
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ..errors import UserError
from ..params import parse_yaml, read_yaml

# The revision a pull request is compared with, unless BASE says otherwise.
DEFAULT_BASE = "origin/main"
# The published model's artifact name in dvc.yaml; GTO tags its versions <name>@vX.Y.Z.
MODEL_ARTIFACT = "model"
# Documentation: no stage, test or setting reads these files (unless a stage lists one in its
# deps), so a change to them alone leaves every result and test outcome as on the base.
DOCUMENTATION = ("*.md", "*.rst", "docs/*", "LICENSE*", "licenses/*")
# What the CI commands write in the working tree (a generated project's .gitignore lists them;
# another repository's may not): never a change of the pull request's.
OWN_FILES = ("report.md", "report-full.md", "ci-pr.json", "repro.log", "pytest.log")
EXCLUDE_OWN = tuple(f"--exclude=/{name}" for name in OWN_FILES)
# DVC's record of which command reads or writes which output (JSON), beside its other locks.
RWLOCK = Path(".dvc/tmp/rwlock")


def run(
    *command: str, log: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``command`` with ``env`` added to the environment, showing its output as it comes;
    also save it to ``log``."""
    print(f"$ {' '.join(command)}", flush=True)
    try:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env={**os.environ, **(env or {})},
        )
    except FileNotFoundError:
        raise UserError(f"`{command[0]}` is not installed here: install it and run again") from None
    with process:
        lines = []
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    output = "".join(lines)
    if log is not None:
        log.write_text(output, encoding="utf-8")
    return subprocess.CompletedProcess(command, process.returncode, output)


def start(*command: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``command`` in the background, its output going to ``log``, with ``env`` added to
    the environment."""
    print(f"$ {' '.join(command)}  (in the background, output in {log})", flush=True)
    with open(log, "w", encoding="utf-8") as file:
        return subprocess.Popen(
            command, stdout=file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )


def finish(process: subprocess.Popen, log: Path) -> subprocess.CompletedProcess:
    """Wait for a command :func:`start` started, then show its output."""
    process.wait()
    output = log.read_text(encoding="utf-8")
    print(f"$ {' '.join(process.args)}\n{output}", end="", flush=True)
    return subprocess.CompletedProcess(process.args, process.returncode, output)


def sh(*command: str, log: Path | None = None) -> str:
    """Run ``command`` as :func:`run` does; raise UserError if it fails."""
    done = run(*command, log=log)
    if done.returncode != 0:
        raise UserError(f"`{' '.join(command)}` failed (exit code {done.returncode}), see above")
    return done.stdout


def installed(*tools: str) -> None:
    """Stop, before anything runs, if one of ``tools`` is not on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        names = " and ".join(f"`{tool}`" for tool in missing)
        verb, them = ("is", "it") if len(missing) == 1 else ("are", "them")
        raise UserError(f"{names} {verb} not installed here: install {them} and run again")


def quiet(*command: str) -> str:
    """Output of a short command that must succeed."""
    installed(command[0])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(
            f"`{' '.join(command)}` failed: {done.stderr.strip() or done.stdout.strip()}"
        )
    return done.stdout.strip()


def succeeds(*command: str) -> bool:
    """Whether a short command exits 0 (a question asked by exit code)."""
    installed(command[0])
    return subprocess.run(command, capture_output=True).returncode == 0


def git(*args: str) -> str | None:
    """Output of a git command, or None when it fails (a file missing at a revision)."""
    done = subprocess.run(["git", *args], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def dvc_json(*args: str) -> dict:
    """Run a ``dvc ... --json`` command and return its parsed output."""
    done = subprocess.run(["dvc", *args, "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()
        raise UserError(f"`dvc {' '.join(args)}` failed: {message[-1] if message else 'no output'}")
    return json.loads(done.stdout or "{}")


def head(short: bool = False) -> str:
    """The checked-out commit."""
    return (git("rev-parse", *(["--short"] if short else []), "HEAD") or "workspace").strip()


def head_subject() -> str:
    return (git("log", "-1", "--format=%s") or "").strip()


def require_revision(base: str) -> None:
    """Stop with the fix if ``base`` is not a commit known here (a shallow CI checkout)."""
    if git("rev-parse", "--verify", "--quiet", base + "^{commit}") is not None:
        return
    remote, _, branch = base.partition("/")
    if branch and git("remote", "get-url", remote) is None:
        # A new project, not yet pushed anywhere: its own branches are the bases there are.
        raise UserError(
            f"the base revision '{base}' is not known here, and this repository has no remote "
            f"'{remote}': compare with a branch of its own instead, as BASE=main"
        )
    fetch = f"git fetch {remote} {branch}" if branch else f"git fetch origin {base}"
    raise UserError(
        f"the base revision '{base}' is not known here: fetch it (`{fetch}`), or check out "
        "the whole history (GitHub: fetch-depth: 0; GitLab: GIT_DEPTH: 0)"
    )


def merge_base(base: str) -> str:
    """The commit this branch forked from ``base`` at (as GitHub diffs a pull request), so that
    changes made on ``base`` since then are not shown as this branch's; ``base`` if unrelated."""
    found = git("merge-base", base, "HEAD")
    return found.strip() if found else base


def read(path: Path) -> str | None:
    """The text of ``path``, or None if there is no such file."""
    return path.read_text(encoding="utf-8") if path.is_file() else None


def lock_entries(text: str | None) -> dict[str, str]:
    """``{path: md5}`` of every dependency and output recorded in a dvc.lock text."""
    entries = {}
    document = _yaml_document(text) if text else None
    for stage in ((document or {}).get("stages") or {}).values():
        for item in [*(stage.get("deps") or []), *(stage.get("outs") or [])]:
            entries[item["path"]] = item.get("md5")
    return entries


# A check reads dvc.yaml and dvc.lock for nearly every file it looks at, and parsing YAML is
# slow (about 40 ms for a generated project's dvc.lock): each text is parsed once. Callers
# read these parses and never change them.
@functools.lru_cache(maxsize=8)
def _yaml_document(text: str):
    return YAML(typ="safe", pure=True).load(text)


def pipeline() -> dict:
    """dvc.yaml, parsed (a copy: the parse is shared by every call on the same text)."""
    return copy.deepcopy(_pipeline(Path("dvc.yaml").read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=8)
def _pipeline(text: str) -> dict:
    return parse_yaml(text, Path("dvc.yaml"))


def remote_url() -> str | None:
    """The URL of the project's default DVC remote (``.dvc/config.local`` included), or None."""
    # DVC's configuration alone, as its Repo reads it: a quarter of the time importing DVC takes.
    from dvc.config import Config

    config = Config(dvc_dir=".dvc")
    name = config["core"].get("remote")
    return config["remote"].get(name, {}).get("url") if name else None


def check_remote_folder() -> None:
    """Stop before a push if the DVC remote is a folder that does not exist (a share not
    mounted): `dvc push` would create it empty, and the remote would then seem to hold
    everything this workspace has while what others pushed is missing."""
    url = remote_url()
    if url and "://" not in url and not Path(url).is_dir():
        raise UserError(
            f"the DVC remote {url} does not exist (a share not mounted?): mount it, or create it "
            f"if it is new (`mkdir -p {url}`), and run again"
        )


def check_dvc_locks() -> None:
    """Stop, touching nothing, on a lock file that a DVC command stopped while writing it left
    empty or cut short: DVC's own error says it cannot read it, not how to recover."""
    lock, load = read(Path("dvc.lock")), _yaml_document
    if lock is not None and not _parsed(lock, load):
        fix = "remove it (`rm dvc.lock`)"
        if _parsed(file_at("HEAD", Path("dvc.lock")) or "", load):
            fix = "restore the committed one (`git checkout dvc.lock`)"
        raise UserError(
            "dvc.lock is empty or cut short (a DVC command was stopped while writing it): "
            f"{fix} and run again"
        )
    rwlock = read(RWLOCK)
    if rwlock is not None and _parsed(rwlock, json.loads) is None:
        raise UserError(
            f"DVC's lock file {RWLOCK.as_posix()} is empty or cut short (a DVC command was stopped "
            f"while writing it): if no DVC command is running here, remove it (`rm "
            f"{RWLOCK.as_posix()}`) and run again"
        )


def _parsed(text: str, load) -> dict | None:
    """``text`` loaded with ``load`` (JSON's or YAML's), if it is a mapping; else None."""
    try:
        document = load(text)
    except (ValueError, YAMLError):
        return None
    return document if isinstance(document, dict) else None


def origin_tip(branch: str) -> str | None:
    """The commit origin's ``branch`` is at, asking origin (a CI checkout may not have fetched
    it); None if origin has no such branch."""
    listed = quiet("git", "ls-remote", "origin", f"refs/heads/{branch}")
    return listed.split()[0] if listed else None


def push() -> None:
    """``dvc push --run-cache``: every output and the run-cache, in this process (DVC's Python
    API), which has DVC imported already for the report."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    print("$ dvc push --run-cache  (DVC's Python API)", flush=True)
    try:
        with Repo() as dvc:
            pushed = dvc.push(run_cache=True)
    except DvcException as error:
        raise UserError(f"dvc push --run-cache failed: {error}") from None
    print(f"{pushed} files pushed", flush=True)


def missing_inputs(stages: list[str]) -> list[str]:
    """Dependencies of ``stages`` that are not in the workspace, as dvc.lock records them (as
    dvc.yaml lists them for a stage the lock does not know yet)."""
    locked = (YAML(typ="safe", pure=True).load(read(Path("dvc.lock")) or "") or {}).get("stages")
    declared = pipeline()["stages"]
    paths = []
    for name in stages:
        if name in (locked or {}):
            paths += [item["path"] for item in locked[name].get("deps") or []]
        else:
            deps = (declared.get(name) or {}).get("deps") or []
            paths += [path for path in deps if isinstance(path, str) and "${" not in path]
    return sorted({path for path in paths if not Path(path).exists()})


def repository_imports(paths: list[str]) -> list[str]:
    """Those of ``paths`` tracked by ``dvc import``: a ``.dvc`` file beside them whose dependency
    is a file of another DVC repository, which DVC fetches from there and never pushes here."""
    found = []
    for path in paths:
        try:
            content = read_yaml(Path(f"{path}.dvc"))
        except (OSError, UserError):
            continue
        deps = content.get("deps") if isinstance(content, dict) else None
        if isinstance(deps, list) and deps and isinstance(deps[0], dict) and deps[0].get("repo"):
            found.append(path)
    return found


def stage_names() -> list[str]:
    """The stages of dvc.yaml, in its order."""
    return list(pipeline()["stages"])


def artifact_path(name: str) -> str:
    """The path of the artifact ``name`` declared in dvc.yaml (the published model)."""
    return pipeline()["artifacts"][name]["path"]


def model_artifact() -> tuple[str, str] | None:
    """``(name, path)`` of the model dvc.yaml declares: the artifact named ``model``, else the
    first of ``type: model``; None when it declares none."""
    artifacts = pipeline().get("artifacts") or {}
    models = [name for name, spec in artifacts.items() if (spec or {}).get("type") == "model"]
    name = MODEL_ARTIFACT if MODEL_ARTIFACT in artifacts else next(iter(models), None)
    return (name, str(artifacts[name]["path"])) if name else None


def generated() -> bool:
    """Whether this repository runs the package's stages: its pyproject.toml declares the
    modules of its own code that models hold (entry points of group ``dvc_ml_kit``), as every
    generated project's does. Its params.yaml then holds the package's settings, its plots are
    the output contract's, and its tests and lint are the package's to run."""
    try:
        config = tomllib.loads(read(Path("pyproject.toml")) or "")
    except ValueError:
        return False
    return "dvc_ml_kit" in (config.get("project", {}).get("entry-points") or {})


def _entries(entries: object) -> list[tuple[str, dict]]:
    """``(path, properties)`` of a list of dvc.yaml outputs, each a path or ``{path: {...}}``."""
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            found += [(str(path), props or {}) for path, props in entry.items()]
        else:
            found.append((str(entry), {}))
    return found


def _stage_outputs() -> list[tuple[str, str, dict]]:
    """``(kind, path, properties)`` of every stage's ``outs``, ``metrics`` and ``plots``."""
    return [
        (kind, path, props)
        for stage in (pipeline().get("stages") or {}).values()
        for kind in ("outs", "metrics", "plots")
        for path, props in _entries(stage.get(kind))
    ]


def metrics_files() -> list[Path]:
    """Every metrics file dvc.yaml declares: its stages' ``metrics``, then its top-level
    ``metrics`` (DVC 3 has both), each once."""
    paths = [path for kind, path, _ in _stage_outputs() if kind == "metrics"]
    paths += [path for path, _ in _entries(pipeline().get("metrics"))]
    return [Path(path) for path in dict.fromkeys(paths)]


def metrics_file() -> Path:
    """The first metrics file of dvc.yaml (in a generated project, the one evaluate's results
    are copied to)."""
    files = metrics_files()
    if not files:
        raise UserError(
            "dvc.yaml declares no metrics file: list the file a stage writes its metrics to under "
            "that stage's `metrics:` (or a top-level `metrics:`), as DVC's docs show"
        )
    return files[0]


def plots() -> dict[str, dict]:
    """``{file: properties}`` of every plot data file (or image) dvc.yaml declares: its stages'
    ``plots`` with their x, y and title, then the files of its top-level ``plots``, whose y (and
    x) may name the file whose columns they are (``y: {eval/roc.tsv: tpr}``)."""
    found: dict[str, dict] = {}
    for kind, path, props in _stage_outputs():
        if kind == "plots":
            found.setdefault(path, props)
    for name, props in _entries(pipeline().get("plots")):
        files = [name]
        for axis in ("x", "y"):
            if isinstance(props.get(axis), dict):
                files = list(props[axis])
        for path in files:
            columns = {
                axis: value.get(path) if isinstance(value, dict) else value
                for axis, value in props.items()
                if axis in ("x", "y")
            }
            title = {} if name == path or "title" in props else {"title": name}
            found.setdefault(path, {**props, **title, **columns})
    return found


def plot_files() -> list[Path]:
    """The plot data files of dvc.yaml."""
    return [Path(path) for path in plots()]


def kept_in_git() -> list[str]:
    """The stages' outputs that DVC leaves to Git (``cache: false``): their results besides
    dvc.lock."""
    return list(
        dict.fromkeys(path for _, path, props in _stage_outputs() if props.get("cache") is False)
    )


def changed_files(base: str) -> list[str]:
    """Files tracked by the pipeline (deps and outputs) or by ``dvc add`` whose content differs
    from ``base``."""
    changed = set()
    old_lock = git("show", f"{base}:dvc.lock")
    if old_lock is not None:
        old = lock_entries(old_lock)
        new = lock_entries(read(Path("dvc.lock")))
        changed = {path for path in new.keys() | old.keys() if old.get(path) != new.get(path)}
    # Data tracked with `dvc add` changes in its .dvc file, even when reproducing failed.
    tracked = git("diff", "--name-only", base, "--", "*.dvc") or ""
    changed.update(name.removesuffix(".dvc") for name in tracked.split())
    return sorted(changed)


def tracked_data(paths: list[str]) -> list[str]:
    """Those of ``paths`` that are data tracked with ``dvc add`` (a ``.dvc`` file beside them)."""
    return [path for path in paths if Path(f"{path}.dvc").is_file()]


def documentation_only(base: str) -> list[str] | None:
    """The files that differ from ``base`` (committed or not) if all of them are documentation
    that no stage depends on, else None."""
    committed = git("diff", "--name-only", "-z", base)
    untracked = git("ls-files", "--others", "--exclude-standard", "-z", *EXCLUDE_OWN)
    if committed is None or untracked is None:
        return None
    changed = sorted(set(filter(None, (committed + untracked).split("\0"))))
    read_by_stages = lock_entries(read(Path("dvc.lock")))
    for name in changed:
        documentation = any(fnmatch(name, pattern) for pattern in DOCUMENTATION)
        if not documentation or any(
            name == path or name.startswith(path.rstrip("/") + "/") for path in read_by_stages
        ):
            return None
    return changed


def results() -> list[str]:
    """What `dvc repro` writes and Git keeps: dvc.lock and the outputs DVC leaves to Git. When
    those all lie in the metrics file's folder (not the repository's root), that folder stands
    for them, as in a generated project (``metrics``)."""
    kept = kept_in_git()
    folder = metrics_file().parent if metrics_files() else Path(".")
    if folder != Path(".") and kept and all(folder in Path(path).parents for path in kept):
        return ["dvc.lock", folder.as_posix()]
    return ["dvc.lock", *kept]


def uncommitted_results() -> list[str]:
    """Reproduced files that differ from the commit: the committed dvc.lock was stale."""
    status = git("status", "--porcelain", "--untracked-files=all", "--", *results()) or ""
    return sorted(line[3:] for line in status.splitlines())


def diffs(base: str, params: bool = True) -> tuple[dict[str, dict], dict]:
    """``dvc metrics diff --all`` of every metrics file dvc.yaml declares (``{file: {key:
    {"old": ..., "new": ...}}}``, nested keys joined with dots) and, if asked, ``dvc params
    diff`` (``{file: {key: {"old": ..., "new": ...}}}``) against ``base``. One DVC process
    through its Python API: each CLI call would pay DVC's start-up again."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo  # imported only here: importing DVC takes a second

    metrics_file()  # one sentence if there is none
    try:
        with Repo() as dvc:
            metrics = dvc.metrics.diff(a_rev=base, all=True).get("diff", {})
            changed = dvc.params.diff(a_rev=base).get("diff", {}) if params else {}
    except DvcException as error:
        raise UserError(f"DVC could not compare the metrics with {base}: {error}") from None
    return metrics, changed


def metrics_values() -> dict[str, dict | None]:
    """``{file: content}`` of every metrics file dvc.yaml declares, as the workspace has them
    (JSON, YAML or TOML, as DVC reads them); None for a file that is not there."""
    return {path.as_posix(): parse_metrics(read(path), path) for path in metrics_files()}


def parse_metrics(text: str | None, path: Path) -> dict | None:
    """A metrics file's content by its suffix (TOML, else YAML, of which JSON is a part);
    None when there is none, or it cannot be read."""
    if text is None:
        return None
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        content = YAML(typ="safe", pure=True).load(text)
    except (ValueError, YAMLError):
        return None
    return content if isinstance(content, dict) else None


def file_at(revision: str, path: Path) -> str | None:
    """The text of ``path`` at ``revision``, or None if it has no such file."""
    return git("show", f"{revision}:{path.as_posix()}")
