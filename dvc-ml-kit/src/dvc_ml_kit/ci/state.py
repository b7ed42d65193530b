"""The pull request's state, gathered once: what the check did, and what changed against the base.

``make ci-pr`` records what it did on a commit (:class:`Run`, saved as ci-pr.json); the report
of that commit, written by ``make ci-pr`` or later by ``make report``, renders one
:class:`PullRequest` gathered from that run, Git and DVC.
"""

import csv
import io
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..contract import PLOTS
from . import repo
from .data import compared
from .gate import (
    Metric,
    bootstrap_file,
    check,
    directed,
    drift_failures,
    from_files,
    parse_bootstrap,
    read_gates,
    unchanged_files,
    with_noise,
    within_noise,
)

# What `make ci-pr` did on its last commit, so that `make report` there shows the same.
RUN_FILE = Path("ci-pr.json")
# The message of the commit `make ci-pr` adds when it commits a reproduced lock (AUTO_COMMIT=1).
AUTO_COMMIT_MESSAGE = "Reproduce the pipeline: update dvc.lock and metrics"
# What `dvc repro` prints for each stage, and how the report names it.
OUTCOMES = {
    r"Running stage '([\w-]+)'": "ran",
    r"Stage '([\w-]+)' is cached - skipping run": "restored from the run-cache",
    r"Stage '([\w-]+)' didn't change, skipping": "unchanged",
}


def stage_outcomes(log: str) -> dict[str, str]:
    """``{stage: outcome}`` from the output of ``dvc repro``, in the order stages appear."""
    outcomes = {}
    for line in log.splitlines():
        for pattern, outcome in OUTCOMES.items():
            match = re.search(pattern, line)
            if match:
                outcomes.setdefault(match[1], outcome)
    return outcomes


def repro_errors(log: str) -> list[str]:
    """Error lines of a failed ``dvc repro`` (DVC's own and the stages' one-line errors), each
    with the two lines after it, where DVC names the files concerned."""
    lines = [line.strip() for line in log.splitlines()]
    errors = []
    for index, line in enumerate(lines):
        if re.match(r"(ERROR|error):", line):
            errors += [line, *[more for more in lines[index + 1 : index + 3] if more]]
    return list(dict.fromkeys(errors))


def pytest_summary(output: str) -> str:
    """pytest's summary line (``12 passed in 3.1s``), or ``no summary``."""
    summary = [line.strip("= ") for line in output.splitlines() if line.startswith("=")]
    return summary[-1] if summary else "no summary"


def summary_failed(summary: str) -> bool:
    return bool(re.search(r"\b(failed|error|errors)\b", summary)) or "passed" not in summary


def failed_stage(log: str) -> str | None:
    """The stage a failed ``dvc repro`` names as the one it could not reproduce."""
    match = re.search(r"failed to reproduce '([\w@:.-]+)'", log)
    return match[1] if match else None


# Why a run could not have the inputs of the stages it had to run (see Run.access).
NO_REMOTE, UNREACHABLE_REMOTE, NO_SECRETS, REMOTE_FAILED = (
    "no remote",
    "unreachable remote",
    "no secrets",
    "remote failed",
)
# The missing inputs come from another DVC repository (`dvc import`), not from this one's remote.
IMPORT_UNREACHABLE = "import unreachable"


@dataclass
class Run:
    """What ``make ci-pr`` did on one commit."""

    commit: str
    # The changed files when they are documentation alone (then nothing else ran), else None.
    documentation: list[str] | None = None
    stages: dict[str, str] = field(default_factory=dict)  # stage: outcome
    errors: list[str] = field(default_factory=list)  # of a failed `dvc repro`
    tests: str | None = None  # pytest's summary line
    lint: bool | None = None  # whether `make lint` passed
    committed: bool = False  # the run committed the reproduced lock: `commit` is that commit
    # The run left the reproduced results in a folder for a later job to commit (--hand-off).
    handed_off: bool = False
    # When reproducing failed because inputs only the DVC remote holds were not here: why not
    # (NO_REMOTE, ...), the stages that could not run and the missing inputs.
    access: str | None = None
    not_run: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def reproduced(self) -> bool:
        """Whether every stage that had to run for this commit ran (or was restored)."""
        return self.documentation is not None or not self.errors

    def save(self, path: Path = RUN_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def of_commit(cls, commit: str, path: Path = RUN_FILE) -> "Run | None":
        """The run recorded for ``commit``; None if the last run was on another commit."""
        text = repo.read(path)
        run = cls(**json.loads(text)) if text else None
        return run if run and run.commit == commit else None


@dataclass
class PullRequest:
    """Everything the report shows, gathered once."""

    head: str  # short commit
    base: str  # the base as given (origin/main)
    base_commit: str  # the merge-base, short
    run: Run | None
    documentation: list[str] | None
    results: list[str]  # what `dvc repro` writes and Git keeps (the lock, the metrics folder)
    stale: list[str]  # results reproducing changed that are not committed
    data_changed: list[str]
    model_changed: bool
    metrics: list[Metric]
    failures: list[str]  # failing gates (the base's gates: a pull request cannot lower its own)
    # Changes the branch makes to the gates (key: (base, branch)), which apply once merged, and
    # what is wrong in the branch's gates.
    gates_proposed: dict[str, tuple[object, object]]
    gates_problems: list[str]
    params: dict  # `dvc params diff`
    plots: dict[str, tuple[list[dict], list[dict]]]  # file name: (rows at base, rows now)
    # Data tracked with `dvc add` that the base's pipeline read and this one no longer does
    # (data.file names another file): replaced, not changed.
    data_dropped: list[str] = field(default_factory=list)
    # max_drop gates that a drop exceeds but chance explains (they pass): one sentence each.
    within_noise: list[str] = field(default_factory=list)
    # How the intervals were drawn: (resamples, test rows), or None without a bootstrap.
    resampling: tuple[int, int] | None = None
    # The Data section (drift.section) when the raw data changed: then the base's metrics come
    # from other data, and max_drop is not judged.
    data_section: list[str] = field(default_factory=list)
    # Plots other than the output contract's (a repository the package did not generate).
    charts: list["Chart"] = field(default_factory=list)
    # Whether the repository runs the package's stages (repo.generated): it has make targets.
    generated: bool = True


# Plot files DVC shows as images, not data.
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".svg")


@dataclass
class Chart:
    """A plot dvc.yaml declares, other than the output contract's: its data at the base and now
    (or, for an image, whether it changed)."""

    path: str
    title: str
    x: str | None  # the column along x (None: the row's number, as DVC draws it)
    y: list[str]  # the columns drawn
    old: list[dict] = field(default_factory=list)
    new: list[dict] = field(default_factory=list)
    image: bool = False
    changed: bool = False


def plot_rows(text: str | None, path: str) -> list[dict]:
    """A plot data file's rows as DVC reads them: CSV, TSV, or JSON (a list of records, or a
    mapping holding one); none when it cannot be read."""
    if not text:
        return []
    if path.endswith((".csv", ".tsv")):
        delimiter = "\t" if path.endswith(".tsv") else ","
        return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    try:
        content = json.loads(text)
    except ValueError:
        return []
    if isinstance(content, dict):  # {"roc": [...]}, as DVCLive writes
        content = next((value for value in content.values() if isinstance(value, list)), [])
    return [row for row in content if isinstance(row, dict)] if isinstance(content, list) else []


def chart(path: str, props: dict, since: str, changed: list[str]) -> Chart:
    """The plot ``path`` with its properties from dvc.yaml, at ``since`` and now."""
    title = str(props.get("title") or path)
    if path.lower().endswith(IMAGES):
        return Chart(path, title, None, [], image=True, changed=path in changed)
    old, new = (
        plot_rows(text, path) for text in (repo.file_at(since, Path(path)), repo.read(Path(path)))
    )
    columns = list(new[0]) if new else list(old[0]) if old else []
    x = props.get("x") if isinstance(props.get("x"), str) else None
    y = props.get("y")
    y = [y] if isinstance(y, str) else [str(name) for name in y] if isinstance(y, list) else []
    y = y or [name for name in columns if name != x][-1:]  # DVC's default: the last column
    return Chart(path, title, x, y, old, new, changed=old != new)


def read_csv(text: str | None) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text))) if text else []


def resampling(text: str | None) -> tuple[int, int] | None:
    """(resamples, test rows) of a bootstrap file, or None without one."""
    content = parse_bootstrap(text)
    return (content["resamples"], content["rows"]) if content else None


def gather(base: str, run: Run | None, params: Path = Path("params.yaml")) -> PullRequest:
    """The pull request's state against ``base``, with what ``run`` did on this commit."""
    since = repo.merge_base(base)
    documentation = run.documentation if run else repo.documentation_only(since)
    if documentation is None:
        metrics_diff, params_diff = repo.diffs(since)
        metrics = from_files(metrics_diff, repo.generated())
    else:
        metrics = unchanged_files(repo.metrics_values(), repo.generated())
        params_diff = {}
    changed = repo.changed_files(since)
    read_before = repo.lock_entries(repo.git("show", f"{since}:dvc.lock"))
    read_now = repo.lock_entries(repo.read(Path("dvc.lock")))
    data = repo.tracked_data(changed)
    dropped = [path for path in data if path in read_before and path not in read_now]
    model = repo.model_artifact()
    # The output contract's plots by their names, in a project that runs the package's stages.
    contract = {name for plots in PLOTS.values() for name in plots} if repo.generated() else set()
    plots = {
        path.name: (read_csv(repo.file_at(since, path)), read_csv(repo.read(path)))
        for path in repo.plot_files()
        if path.name in contract
    }
    charts = [
        chart(path, props, since, changed)
        for path, props in repo.plots().items()
        if Path(path).name not in contract
    ]
    resampled = repo.read(bootstrap_file())
    metrics = with_noise(metrics, resampled, repo.file_at(since, bootstrap_file()))
    gates = read_gates(params, since, base)
    metrics = directed(metrics, gates.applied, gates.branch)
    other_data = bool(data)
    section = compared(since, params) if other_data and documentation is None else None
    failures = check(metrics, gates.applied, gates.where, other_data=other_data)
    if other_data:
        share = section.drift_share if section else None
        failures += drift_failures(gates.applied, share, compared=share is not None)
    return PullRequest(
        head=repo.head(short=True),
        base=base,
        base_commit=(repo.git("rev-parse", "--short", since) or "?").strip(),
        run=run,
        documentation=documentation,
        results=repo.results(),
        stale=[] if run is not None and run.handed_off else repo.uncommitted_results(),
        data_changed=[path for path in data if path not in dropped],
        data_dropped=dropped,
        model_changed=model is not None and model[1] in changed,
        metrics=metrics,
        failures=failures,
        data_section=section.lines if section else [],
        within_noise=[] if other_data else within_noise(metrics, gates.applied),
        resampling=resampling(resampled),
        gates_proposed=gates.proposed,
        gates_problems=gates.branch_problems(metrics),
        params=params_diff,
        plots=plots,
        charts=charts,
        generated=repo.generated(),
    )
