"""make bench: measure a generated project on this machine, every comparison side by side.

1. CI cost per kind of pull request: ``make ci-pr`` against the common pattern of public DVC/CML
   examples (pull the raw data, then ``dvc repro`` with no run-cache, on every push). Each run
   starts from a fresh clone with an empty DVC cache, as a CI runner does, and from the same
   origin and DVC remote (restored before each run).
2. Pipeline overhead: a cold ``dvc repro --force`` against the same stage commands run directly.
3. Set-up: the generated ``make setup`` with uv against plain pip (both with warm caches).
4. Scale: synthetic data (20 features, numeric and categorical, some missing) at each size: every
   stage's wall time and peak memory, the whole pipeline through ``dvc repro``, and the floor
   (``floor.py``: the same reading, fitting, predicting and metrics in one process).
5. The Dask engine (``compute.engine: dask``, a cluster each stage starts on this machine: one
   worker per core) against the local engine at each size, one after the other: every stage's
   wall time and the peak memory of its largest process (the stage's own, or a worker's), how
   that memory grows with the rows, and what larger data would need, extrapolated from the
   measured throughput per worker. With the scale part, the local engine's runs are the scale
   part's, on the same data, just before.
6. Serving: ``dvc-ml-kit serve`` with the project's published bundle (or ``--serve-bundle``):
   requests per second and p50/p99 latency for single rows and for batches of 1,000 rows, and
   ``dvc-ml-kit predict`` on the same 1,000 rows (a process per CSV) beside it.

Prints markdown tables and writes every raw number to a JSON file.
"""

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml
from cookiecutter.main import cookiecutter

BENCH = Path(__file__).resolve().parent
TEMPLATE = BENCH.parent
SLUG, PACKAGE = "diagnosis-model", "diagnosis_model"
RAW = "data/raw/breast_cancer.csv"
SYNTHETIC = "data/raw/synthetic.csv"
SYNTHETIC_PARAMS = {RAW: SYNTHETIC, "target: diagnosis": "target: target"}
# The kinds of pull request: a file to change, the text to find and what to put instead.
KINDS = {
    "README only": ("README.md", "\n## What is where", "\nA note.\n\n## What is where"),
    "evaluate code only": (
        f"src/{PACKAGE}/stages/evaluate.py",
        'if __name__ == "__main__":',
        '# A change to the evaluation code.\nif __name__ == "__main__":',
    ),
    "one train param": ("params.yaml", "learning_rate: 0.1", "learning_rate: 0.05"),
}
OURS = "make ci-pr AUTO_COMMIT=1"
# What public DVC/CML examples run on every push: the raw data, then the whole pipeline, then
# the metrics diff they post.
COMMON = "dvc pull {raw}.dvc && dvc repro && dvc metrics diff origin/main --md > report.md"
GIB = 1024**3
# The targets: `make ci-pr` against the common pattern, on the sample (no more than re-running
# everything) and on larger data; and against the stages a train-param change must run.
CI_LIMITS_SAMPLE = {"evaluate code only": 1.0, "one train param": 1.0}
CI_LIMITS_LARGE = {"evaluate code only": 0.52, "one train param": 0.75}
STAGES_LIMIT = 1.15


@dataclass
class Run:
    seconds: float
    peak_mib: float
    returncode: int
    output: str

    def stages(self, outcome: str = "ran") -> list[str]:
        pattern = {"ran": r"Running stage '([\w-]+)'", "restored": r"Stage '([\w-]+)' is cached"}
        return re.findall(pattern[outcome], self.output)


def measure(command: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``command`` with bash; its wall time and the peak memory of its largest process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = process.stdout.read()
    # wait4 gives this command's own resource use: ru_maxrss is its largest process, in KiB.
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    return Run(seconds, usage.ru_maxrss / 1024, process.returncode, output)


def must(command: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """``measure``, stopping the benchmark with the command's output if it fails."""
    done = measure(command, cwd, env)
    if done.returncode != 0:
        sys.exit(f"bench: `{command}` failed in {cwd}:\n{done.output[-3000:]}")
    return done


def activated(project: Path) -> dict[str, str]:
    """The environment of ``project``'s .venv, as `. .venv/bin/activate` sets it."""
    venv = project / ".venv"
    return {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}


def without_uv() -> dict[str, str]:
    """PATH without any folder holding uv, so the project's Makefile falls back to pip."""
    folders = os.environ["PATH"].split(os.pathsep)
    return {"PATH": os.pathsep.join(f for f in folders if not (Path(f) / "uv").exists())}


def bake(root: Path, name: str, set_up: bool = True) -> Path:
    """A generated project with the default answers in ``root/name``, set up with uv unless
    ``set_up`` is false."""
    folder = root / name
    folder.mkdir(parents=True)
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(folder)))
    if set_up:
        must("make setup", project)
    return project


def median(runs: list[Run]) -> float:
    return statistics.median(run.seconds for run in runs)


# 1. CI cost per kind of pull request -------------------------------------------------------


def use_synthetic_data(project: Path, rows: int) -> None:
    """Point the project's pipeline at ``rows`` rows of synthetic data (not yet tracked)."""
    must(f"python {BENCH / 'synthetic.py'} {rows} {SYNTHETIC}", project, activated(project))
    params = project / "params.yaml"
    text = params.read_text()
    # The data and its target.
    for old, new in SYNTHETIC_PARAMS.items():
        text = text.replace(old, new)
    params.write_text(text)


def without_drop_gates(project: Path) -> None:
    """The bench measures what a check costs, not whether a change is good: no `max_drop` gate
    (a lower learning rate costs 1M synthetic rows about 0.011 of ROC AUC, over its 0.01)."""
    params = project / "params.yaml"
    text = re.sub(r"^  max_drop:\n(    .*\n)+", "  max_drop: {}\n", params.read_text(), flags=re.M)
    params.write_text(text)


def ci_world(root: Path, rows: int | None) -> dict:
    """A published main on a bare origin and a local DVC remote, with one branch per kind; the
    sample data, or ``rows`` rows of synthetic data tracked with `dvc add`."""
    project = bake(root, "ci")
    origin, storage = root / "origin.git", root / "dvc-storage"
    must(f"git init --quiet --bare --initial-branch=main {origin}", root)
    script = [f"dvc remote modify --local storage url {storage}"]
    without_drop_gates(project)
    if rows:
        use_synthetic_data(project, rows)
        script.append(f"dvc add --quiet {SYNTHETIC}")
    script += [
        "dvc repro --quiet && git add --all && git commit --quiet -m 'Reproduce'",
        f"git remote add origin {origin} && git push --quiet origin main && dvc push --quiet",
    ]
    for number, (path, old, new) in enumerate(KINDS.values()):
        script += [
            f"git checkout --quiet -b kind-{number} main",
            f"python -c {shlex.quote(EDIT)} {path} {shlex.quote(old)} {shlex.quote(new)}",
            f"git commit --quiet -am 'Change {path}' && git push --quiet origin kind-{number}",
        ]
    must(" && ".join(script), project, activated(project))
    for folder in (origin, storage):
        shutil.copytree(folder, folder.with_suffix(".saved"))
    return {"origin": origin, "storage": storage, "raw": SYNTHETIC if rows else RAW}


EDIT = (
    "import sys, pathlib; path, old, new = sys.argv[1:]; file = pathlib.Path(path); "
    "text = file.read_text(); assert old in text, old; file.write_text(text.replace(old, new, 1))"
)


def fresh_clone(world: dict, branch: str, folder: Path) -> Path:
    """A clone of ``branch`` as a CI runner has it: set up, no DVC cache, no outputs."""
    for name in ("origin", "storage"):
        shutil.rmtree(world[name])
        shutil.copytree(world[name].with_suffix(".saved"), world[name])
    shutil.rmtree(folder, ignore_errors=True)
    must(f"git clone --quiet --branch {branch} {world['origin']} {folder}", folder.parent)
    storage = world["storage"]
    must(f"make setup && .venv/bin/dvc remote modify --local storage url {storage}", folder)
    return folder


# The stages a kind of pull request must run, by their commands alone (``direct`` below).
MUST_RUN = {
    "README only": [],
    "evaluate code only": ["evaluate"],
    "one train param": ["train", "evaluate"],
}


def direct_stages(clone: Path, stages: list[str]) -> Run:
    """``stages``' commands run directly, one after the other, in ``clone`` (where `make ci-pr`
    has just checked the branch) with their inputs in place (``dvc pull``, not timed): the work
    the check cannot avoid."""
    env = activated(clone)
    must("dvc pull --quiet", clone, env)
    commands = yaml_commands(clone)
    return must(" && ".join(commands[name] for name in stages) or "true", clone, env)


def bench_ci(
    root: Path, runs: int, rows: int | None = None, kinds: tuple[str, ...] = tuple(KINDS)
) -> dict:
    """CI cost per kind of pull request (``kinds``, of KINDS) on the sample data, or on ``rows``
    synthetic rows."""
    world = ci_world(root, rows)
    common = COMMON.format(raw=world["raw"])
    results = {kind: {"ours": [], "common": [], "direct": []} for kind in kinds}
    for _ in range(runs):
        for number, kind in enumerate(KINDS):
            if kind not in kinds:
                continue
            # Side by side: the patterns alternate, each from its own fresh clone; then the
            # stages alone in the last one (ours).
            for pattern, command in (("common", common), ("ours", OURS)):
                clone = fresh_clone(world, f"kind-{number}", root / "clone")
                env = activated(clone) | {"BRANCH": f"kind-{number}"}
                results[kind][pattern].append(must(command, clone, env))
            results[kind]["direct"].append(direct_stages(clone, MUST_RUN[kind]))
    commands = {"ours": OURS, "common": common}
    return {
        "data": f"{rows:,} synthetic rows" if rows else "the sample data",
        "runs": runs,
        "kinds": {
            kind: {
                pattern: {
                    "command": commands.get(pattern, " && ".join(MUST_RUN[kind]) or "nothing"),
                    "seconds": [run.seconds for run in done],
                    "median_seconds": median(done),
                    "stages_run": MUST_RUN[kind] if pattern == "direct" else done[0].stages(),
                    "stages_restored": [] if pattern == "direct" else done[0].stages("restored"),
                }
                for pattern, done in patterns.items()
            }
            for kind, patterns in results.items()
        },
    }


# 2. Pipeline overhead ----------------------------------------------------------------------


def stage_commands(project: Path) -> dict[str, str]:
    """Each stage's command as DVC ran it (parameters filled in), from dvc.lock, in order."""
    lock = yaml.safe_load((project / "dvc.lock").read_text(encoding="utf-8"))
    return {name: stage["cmd"] for name, stage in lock["stages"].items()}


def bench_overhead(project: Path, runs: int) -> dict:
    """A set-up ``project`` on its sample data: ``dvc repro --force`` against its stages'
    commands, alternating."""
    env = activated(project)
    must("dvc repro --quiet", project, env)
    direct = " && ".join(stage_commands(project).values())
    repro, plain = [], []
    for _ in range(runs):
        repro.append(must("dvc repro --force", project, env))
        plain.append(must(direct, project, env))
    assert len(repro[0].stages()) == 4, repro[0].output
    return {
        "dvc_repro_force": [run.seconds for run in repro],
        "direct": [run.seconds for run in plain],
        "ratio": median(repro) / median(plain),
    }


# 3. Set-up ---------------------------------------------------------------------------------


def bench_setup(project: Path, runs: int, pip_runs: int) -> dict:
    """``make setup`` in ``project`` from no environment, with uv and with pip, alternating;
    uv's run comes last, so that the parts after this one find the environment uv made (as
    long as ``runs`` is at least ``pip_runs``)."""
    uv, pip = [], []
    for index in range(max(runs, pip_runs)):
        if index < pip_runs:
            pip.append(must("rm -rf .venv && make setup", project, without_uv()))
        if index < runs:
            uv.append(must("rm -rf .venv && make setup", project))
    return {
        "uv": [run.seconds for run in uv],
        "pip": [run.seconds for run in pip],
        "ratio": median(uv) / median(pip) if pip else None,
    }


# 4. Scale ----------------------------------------------------------------------------------


def scale_at(project: Path) -> tuple[dict, dict[str, Run]]:
    """The scale part on ``project``'s synthetic data, on the local engine: its results, and its
    runs of each stage's command."""
    env = activated(project)
    csv = project / SYNTHETIC
    floor_command = f"python {BENCH / 'floor.py'} {PACKAGE} {csv} --params params.yaml"
    floor = must(floor_command, project, env)
    repro = must("dvc repro --force", project, env)
    assert len(repro.stages()) == 4, repro.output
    stages = {
        name: must(command, project, env) for name, command in stage_commands(project).items()
    }
    return {
        "csv_mib": csv.stat().st_size / 2**20,
        "dvc_repro": {"seconds": repro.seconds, "peak_mib": repro.peak_mib},
        "floor": {"seconds": floor.seconds, "peak_mib": floor.peak_mib},
        "stages": {
            name: {"seconds": run.seconds, "peak_mib": run.peak_mib} for name, run in stages.items()
        },
    }, stages


# 5. The Dask engine ------------------------------------------------------------------------

ENGINES = ("local", "dask")
# Memory a worker may use, for the extrapolation: a common cloud machine's share per core.
WORKER_GIB = 8
EXTRAPOLATE = (100_000_000, 1_000_000_000)


def yaml_commands(project: Path) -> dict[str, str]:
    """Each stage's command from dvc.yaml, ``${key}`` filled in from params.yaml, in order."""
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))

    def value(match: re.Match) -> str:
        node = params
        for part in match[1].split("."):
            node = node[part]
        return str(node)

    stages = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: re.sub(r"\$\{([\w.]+)\}", value, spec["cmd"]) for name, spec in stages.items()}


def set_engine(project: Path, engine: str) -> None:
    params = project / "params.yaml"
    text = re.sub(r"^  engine: \w+$", f"  engine: {engine}", params.read_text(), flags=re.M)
    params.write_text(text)


def dask_at(project: Path, local: dict[str, Run] | None) -> dict:
    """Each stage's command on ``project``'s synthetic data with the local engine, then with the
    Dask engine (its libraries installed); ``local``: the local engine's runs of the same
    commands, measured just before (by the scale part), instead of running them again."""
    env = activated(project) | {"DASK_SCHEDULER_ADDRESS": ""}
    engines = {}
    for engine in ENGINES:
        set_engine(project, engine)
        commands = {
            name: cmd for name, cmd in yaml_commands(project).items() if name != "copy_evaluation"
        }
        if engine == "local" and local is not None:
            done = {name: local[name] for name in commands}
        else:
            done = {name: must(command, project, env) for name, command in commands.items()}
        engines[engine] = {name: vars(run) | {"output": None} for name, run in done.items()}
    return {
        "csv_mib": (project / SYNTHETIC).stat().st_size / 2**20,
        "workers": os.cpu_count(),
        "engines": engines,
    }


def bench_sizes(project: Path, sizes: list[int], parts: set[str]) -> dict[str, dict]:
    """The scale part and the Dask part (of ``parts``) on a set-up ``project``, one size at a
    time: the synthetic data is written once per size, and the local engine's runs of each
    stage measured by the scale part are those the Dask engine's runs are set beside (the same
    commands: dvc.lock's are dvc.yaml's with the parameters filled in). The project is left on
    the Dask engine with its libraries, or pointed at synthetic data."""
    if "dask" in parts:
        must("make setup-dask", project)
    results = {part: {} for part in ("scale", "dask") if part in parts}
    for rows in sizes:
        use_synthetic_data(project, rows)
        set_engine(project, "local")
        local = None
        if "scale" in parts:
            results["scale"][rows], local = scale_at(project)
        if "dask" in parts:
            results["dask"][rows] = dask_at(project, local)
        (project / SYNTHETIC).unlink()
    return results


def dask_tables(dask: dict) -> list[str]:
    """Each stage on both engines per size, then what larger data would need."""
    lines = [
        "",
        "The Dask engine against the local engine (synthetic data, 20 features; a cluster of "
        "one single-threaded worker per core started by each stage; peak memory of the largest "
        "process, the stage's or a worker's):",
        "",
        "| Rows | Stage | Local: wall | Local: peak | Dask: wall | Dask: peak "
        "| Wall, dask / local |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for rows, result in dask.items():
        local, remote = result["engines"]["local"], result["engines"]["dask"]
        for name in local:
            lines.append(
                f"| {int(rows):,} | `{name}` | {local[name]['seconds']:.1f} s "
                f"| {local[name]['peak_mib']:.0f} MiB | {remote[name]['seconds']:.1f} s "
                f"| {remote[name]['peak_mib']:.0f} MiB "
                f"| {ratio(remote[name]['seconds'] / local[name]['seconds'])} |"
            )
    rows = max(dask, key=int)
    largest = dask[rows]
    workers, measured = largest["workers"], largest["engines"]["dask"]
    lines += [
        "",
        f"Extrapolated, not measured: from the Dask engine's throughput per worker and memory "
        f"per row at {int(rows):,} rows on {workers} workers, assuming both stay the same with "
        f"more workers (network and scheduling costs of a large cluster are not in it), with "
        f"workers of {WORKER_GIB} GiB:",
        "",
        "| Rows | Stage | Workers | Wall |",
        "| ---: | --- | ---: | ---: |",
    ]
    for target in EXTRAPOLATE:
        for name, done in measured.items():
            per_row = done["peak_mib"] * 2**20 / (int(rows) / workers)
            needed = max(workers, -(-int(per_row * target) // (WORKER_GIB * GIB)))
            per_worker_second = int(rows) / (done["seconds"] * workers)
            seconds = target / (per_worker_second * needed)
            lines.append(f"| {target:,} | `{name}` | {needed:,} | {seconds / 60:.0f} min |")
    return lines


def memory_growth(dask: dict, machine_mib: float | None) -> list[str]:
    """How each engine's largest process grows from the smallest size to the largest, and at how
    many rows the local engine's would need all of this machine's memory."""
    if len(dask) < 2 or not machine_mib:
        return []
    small, large = sorted(dask, key=int)[0], sorted(dask, key=int)[-1]
    more = (int(large) - int(small)) / 1e6
    lines = [
        "",
        f"Peak memory per million more rows, from {int(small):,} to {int(large):,} rows, and "
        f"the rows at which the local engine's largest process would need all of this "
        f"machine's {machine_mib / 1024:.0f} GiB (a straight line through the two sizes: an "
        f"extrapolation):",
        "",
        "| Stage | Local | Dask, largest worker or stage | Local outgrows this machine at |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in dask[large]["engines"]["local"]:
        peaks = {
            engine: (dask[small]["engines"][engine][name], dask[large]["engines"][engine][name])
            for engine in ENGINES
        }
        slope = {
            engine: (after["peak_mib"] - before["peak_mib"]) / more
            for engine, (before, after) in peaks.items()
        }
        left = machine_mib - peaks["local"][1]["peak_mib"]  # at the largest size
        outgrows = (
            f"about {(int(large) / 1e6 + left / slope['local']):,.0f}M rows"
            if slope["local"] > 0
            else "not on this trend"
        )
        lines.append(
            f"| `{name}` | {slope['local']:+.0f} MiB | {slope['dask']:+.0f} MiB | {outgrows} |"
        )
    return lines


# 6. Serving ---------------------------------------------------------------------------------

BATCH = 1000
# Single-row requests per run (batches: a twentieth of them), and requests in flight at once for
# the throughput of single rows (latency: one at a time).
SERVE_REQUESTS = 400
CONCURRENCY = 4


def served(command: Path, bundle: Path, folder: Path) -> tuple[subprocess.Popen, str]:
    """``dvc-ml-kit serve`` on a free port of 127.0.0.1, once it answers /health: the process
    and its address."""
    log = folder / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(command), "serve", str(bundle), "--host", "127.0.0.1", "--port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        started = re.search(r"^serve: .* on (http://\S+)$", log.read_text(), re.M)
        if started:
            try:
                with urllib.request.urlopen(f"{started[1]}/health", timeout=5):
                    return process, started[1]
            except OSError:
                pass
        time.sleep(0.1)
    stop(process)
    sys.exit(f"bench: dvc-ml-kit serve did not start:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def load(url: str, body: bytes, requests: int, concurrency: int) -> dict:
    """``requests`` POSTs of ``body`` to /predict, ``concurrency`` at a time: requests per second
    and latency percentiles (urllib stops the benchmark on any answer but a success)."""

    def one(_) -> tuple[float, int]:
        request = urllib.request.Request(
            f"{url}/predict", data=body, headers={"Content-Type": "application/json"}
        )
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = response.read()
        return time.perf_counter() - start, len(json.loads(answer)["predictions"])

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        done = list(pool.map(one, range(requests)))
    seconds = time.perf_counter() - started
    latencies = sorted(latency for latency, _ in done)
    return {
        "requests": requests,
        # As the answers count them: one prediction per row.
        "rows_per_request": statistics.mode(rows for _, rows in done),
        "concurrency": concurrency,
        "seconds": seconds,
        "requests_per_second": requests / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
    }


def published_bundle(root: Path) -> tuple[Path, Path, Path]:
    """A generated project reproduced and its model written as a bundle, as publishing writes
    it: the bundle, the project's sample data, and the project's dvc-ml-kit."""
    project = bake(root, "serve")
    env = activated(project)
    must("dvc repro --quiet", project, env)
    build = "from dvc_ml_kit.ci.publish import build_bundle; print(build_bundle('v0.0.0'))"
    folder = must(f"python -c {shlex.quote(build)}", project, env).output.strip()
    return project / folder, project / RAW, project / ".venv/bin/dvc-ml-kit"


def bench_serve(
    root: Path, runs: int, bundle: Path | None = None, data: Path | None = None, requests=None
) -> dict:
    """``dvc-ml-kit serve`` against ``dvc-ml-kit predict`` on rows of ``data`` (the bundle's
    project's sample data when no bundle is given)."""
    import pandas as pd

    requests = requests or SERVE_REQUESTS
    if bundle is None:
        bundle, data, command = published_bundle(root)
    else:
        bundle, command = bundle.resolve(), Path(sys.executable).with_name("dvc-ml-kit")
    rows = pd.read_csv(data)
    batch = pd.concat([rows] * -(-BATCH // len(rows)), ignore_index=True).head(BATCH)
    folder = root / "serve"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "batch.csv"
    batch.to_csv(csv, index=False)

    def body(frame) -> bytes:
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        return json.dumps({"rows": records}).encode()

    process, url = served(command, bundle, folder)
    try:
        one = body(batch.head(1))
        single = load(url, one, requests, 1)
        parallel = load(url, one, requests, CONCURRENCY)
        batches = load(url, body(batch), max(2, requests // 20), 1)
    finally:
        stop(process)
    scoring = [command, "predict", bundle, csv, folder / "predictions.csv"]
    predict = [must(shlex.join(map(str, scoring)), folder).seconds for _ in range(runs)]
    return {
        "bundle": bundle.name,
        "batch_rows": BATCH,
        "single_row": single,
        "single_row_parallel": parallel,
        "batch": batches,
        "predict_cli": {"seconds": predict, "median_seconds": statistics.median(predict)},
    }


def serve_table(serve: dict) -> list[str]:
    cli, rows = serve["predict_cli"], serve["batch_rows"]
    lines = [
        "",
        f"Serving `{serve['bundle']}` with `dvc-ml-kit serve` against `dvc-ml-kit predict` (a "
        f"process per CSV, median of {len(cli['seconds'])} run(s)), on the same rows:",
        "",
        "| Scoring | Requests | At a time | Requests/s | p50 | p99 | Seconds per 1,000 rows |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    kinds = (
        ("single rows", serve["single_row"]),
        ("single rows", serve["single_row_parallel"]),
        (f"batches of {rows:,} rows", serve["batch"]),
    )
    for name, done in kinds:
        per_thousand = 1000 * done["seconds"] / (done["requests"] * done["rows_per_request"])
        lines.append(
            f"| `serve`, {name} | {done['requests']} | {done['concurrency']} "
            f"| {done['requests_per_second']:.1f} | {done['p50_ms']:.1f} ms "
            f"| {done['p99_ms']:.1f} ms | {per_thousand:.3f} s |"
        )
    lines.append(
        f"| `predict`, a CSV of {rows:,} rows | {len(cli['seconds'])} | 1 | — | — | — "
        f"| {1000 * cli['median_seconds'] / rows:.3f} s |"
    )
    return lines


# Tables ------------------------------------------------------------------------------------


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def stage_list(pattern: dict) -> str:
    """``2: train, evaluate``, and the stages restored from the run-cache, if any."""
    ran = pattern["stages_run"]
    text = f"{len(ran)}" + (f": {', '.join(ran)}" if ran else "")
    if pattern["stages_restored"]:
        text += f" (restored: {', '.join(pattern['stages_restored'])})"
    return text


def ci_table(ci: dict) -> list[str]:
    lines = [
        f"CI cost per kind of pull request, on {ci['data']} (median of {ci['runs']} run(s) "
        "each, from a fresh clone):",
        "",
        "| Pull request | `make ci-pr`: stages run | wall | Common pattern: stages run | wall "
        "| Ratio | Its stages' commands alone | `make ci-pr` / those |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, patterns in ci["kinds"].items():
        ours, common, direct = patterns["ours"], patterns["common"], patterns.get("direct")
        alone = (
            "—" if not direct or not direct["stages_run"] else f"{direct['median_seconds']:.1f} s"
        )
        over = None if alone == "—" else ours["median_seconds"] / direct["median_seconds"]
        lines.append(
            f"| {kind} | {stage_list(ours)} | {ours['median_seconds']:.1f} s "
            f"| {stage_list(common)} | {common['median_seconds']:.1f} s "
            f"| {ratio(ours['median_seconds'] / common['median_seconds'])} | {alone} "
            f"| {ratio(over)} |"
        )
    return lines + [""]


def tables(results: dict) -> str:
    """Every measured part as markdown tables, then the targets."""
    lines = []
    for ci in results.get("ci", []):
        lines += ci_table(ci)
    if "overhead" in results:
        lines += comparison_table(results)
    if "scale" in results:
        lines += scale_tables(results["scale"])
    if "dask" in results:
        lines += dask_tables(results["dask"])
        lines += memory_growth(results["dask"], results["machine"].get("memory_mib"))
    if "serve" in results:
        lines += serve_table(results["serve"])
    lines += ["", *targets(results)]
    return "\n".join(lines)


def comparison_table(results: dict) -> list[str]:
    """Pipeline overhead and set-up, each against its alternative."""
    runs, overhead, setup = results["runs"], results["overhead"], results["setup"]
    lines = [
        "| Comparison | Ours | Against | Ratio |",
        "| --- | ---: | ---: | ---: |",
        f"| Pipeline overhead, sample data: `dvc repro --force` vs the stage commands run "
        f"directly ({runs} runs) | {statistics.median(overhead['dvc_repro_force']):.1f} s "
        f"| {statistics.median(overhead['direct']):.1f} s | {ratio(overhead['ratio'])} |",
    ]
    uv = f"{statistics.median(setup['uv']):.1f} s"
    pip = f"{statistics.median(setup['pip']):.1f} s" if setup["pip"] else "not measured"
    lines.append(
        f"| Set-up, `make setup`: uv ({len(setup['uv'])} runs) vs pip ({len(setup['pip'])} "
        f"run(s)), warm caches | {uv} | {pip} | {ratio(setup['ratio'])} |"
    )
    return lines


def scale_tables(scale: dict) -> list[str]:
    """Time and peak memory per stage and size, and how time grows with the rows."""
    names = list(next(iter(scale.values()))["stages"])
    lines = [
        "",
        "Scale (synthetic data, 20 features; one run per size; peak memory of the largest "
        "process):",
        "",
        "| Rows | CSV | "
        + " | ".join(f"`{name}`" for name in names)
        + " | `dvc repro`, all stages | Floor, one process | Pipeline / floor |",
        "| ---: | ---: | " + " | ".join("---:" for _ in names) + " | ---: | ---: | ---: |",
    ]
    for rows, result in scale.items():
        cells = [
            f"{stage['seconds']:.1f} s, {stage['peak_mib']:.0f} MiB"
            for stage in result["stages"].values()
        ]
        repro, floor = result["dvc_repro"], result["floor"]
        lines.append(
            f"| {int(rows):,} | {result['csv_mib']:.0f} MiB | "
            + " | ".join(cells)
            + f" | {repro['seconds']:.1f} s, {repro['peak_mib']:.0f} MiB"
            f" | {floor['seconds']:.1f} s, {floor['peak_mib']:.0f} MiB"
            f" | {ratio(repro['seconds'] / floor['seconds'])} |"
        )
    sizes = list(scale)
    if len(sizes) > 1:
        lines += [
            "",
            "How time grows with the rows (1.0x: no slower; 10x rows at 10.0x: linear):",
            "",
            "| Rows | " + " | ".join(f"`{name}`" for name in names) + " | `dvc repro` | Floor |",
            "| --- | " + " | ".join("---:" for _ in names) + " | ---: | ---: |",
        ]
    for small, large in zip(sizes, sizes[1:], strict=False):
        before, after = scale[small], scale[large]
        growth = [
            after["stages"][name]["seconds"] / before["stages"][name]["seconds"] for name in names
        ]
        growth += [
            after[part]["seconds"] / before[part]["seconds"] for part in ("dvc_repro", "floor")
        ]
        lines.append(
            f"| {int(small):,} → {int(large):,} | "
            + " | ".join(f"{value:.1f}x" for value in growth)
            + " |"
        )
    return lines


def limit_row(ci: dict, kind: str, against: str, limit: float, what: str) -> str:
    """A target row: ``make ci-pr`` on ``kind`` at most ``limit`` times the ``against`` run."""
    done = ci["kinds"][kind]
    measured = done["ours"]["median_seconds"] / done[against]["median_seconds"]
    return (
        f"| {kind} pull request, on {ci['data']}: at most {limit:.2f}x {what} "
        f"| {ratio(measured)} | {mark(measured <= limit)} |"
    )


def targets(results: dict) -> list[str]:
    """The performance targets, each met or not."""
    lines = ["| Target | Measured | Met |", "| --- | --- | :---: |"]
    if "overhead" in results:
        lines.append(
            f"| Pipeline overhead at most 1.25x | {ratio(results['overhead']['ratio'])} "
            f"| {mark(results['overhead']['ratio'] <= 1.25)} |"
        )
    for ci in results.get("ci", []):
        readme = ci["kinds"].get("README only")
        if readme:
            share = readme["ours"]["median_seconds"] / readme["common"]["median_seconds"]
            lines.append(
                f"| README-only pull request, on {ci['data']}: 0 stages, at most 5% of the "
                f"common pattern's time | {len(readme['ours']['stages_run'])} stages, {share:.1%} "
                f"| {mark(not readme['ours']['stages_run'] and share <= 0.05)} |"
            )
        sample = ci["data"] == "the sample data"
        for kind, limit in (CI_LIMITS_SAMPLE if sample else CI_LIMITS_LARGE).items():
            if kind in ci["kinds"]:
                lines.append(limit_row(ci, kind, "common", limit, "the common pattern's time"))
        if not sample and "direct" in ci["kinds"].get("one train param", {}):
            alone = "its stages' commands alone (train, evaluate)"
            lines.append(limit_row(ci, "one train param", "direct", STAGES_LIMIT, alone))
    scale = results.get("scale", {})
    million = scale.get(1_000_000) or scale.get("1000000")
    if million:
        repro, floor = million["dvc_repro"], million["floor"]
        peak = max(repro["peak_mib"], *(s["peak_mib"] for s in million["stages"].values()))
        lines += [
            f"| 1M rows end to end in at most 90 s | {repro['seconds']:.1f} s "
            f"| {mark(repro['seconds'] <= 90)} |",
            f"| 1M rows in at most 4 GiB | {peak / 1024:.2f} GiB "
            f"| {mark(peak * 2**20 <= 4 * GIB)} |",
            f"| 1M rows within 2x of the floor | {ratio(repro['seconds'] / floor['seconds'])} "
            f"| {mark(repro['seconds'] <= 2 * floor['seconds'])} |",
        ]
    return lines


def save(results: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/bench/results.json"))
    parser.add_argument("--runs", type=int, default=3, help="runs of each short measurement")
    parser.add_argument("--pip-runs", type=int, default=1, help="runs of the pip set-up (0: skip)")
    parser.add_argument(
        "--rows", default="10000,100000,1000000", help="comma-separated sizes for the scale part"
    )
    parser.add_argument(
        "--ci-data",
        default="sample,1000000",
        help="comma-separated data for the CI part: sample, or a number of synthetic rows "
        "(measured once each: a run takes about a minute)",
    )
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"comma-separated kinds of pull request for the CI part (of: {', '.join(KINDS)})",
    )
    parser.add_argument(
        "--parts",
        default="ci,overhead,setup,scale,dask",
        help="comma-separated parts to measure (of: ci, overhead, setup, scale, dask, serve)",
    )
    parser.add_argument(
        "--serve-bundle",
        type=Path,
        help="serve: a bundle folder to serve (default: a generated project's, reproduced here)",
    )
    parser.add_argument("--serve-data", type=Path, help="serve: a CSV of rows for --serve-bundle")
    parser.add_argument(
        "--serve-requests",
        type=int,
        default=SERVE_REQUESTS,
        help="serve: single-row requests (batches of 1,000 rows: a twentieth as many)",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    sizes = [int(size) for size in args.rows.split(",")]
    ci_data = [None if data == "sample" else int(data) for data in args.ci_data.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        root = Path(folder)
        results = {
            "machine": {
                "cpus": os.cpu_count(),
                "memory_mib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20,
                "python": platform.python_version(),
                "system": platform.platform(),
            },
            "runs": args.runs,
        }
        if "ci" in parts:
            results["ci"] = []
            for rows in ci_data:
                folder = root / f"ci-{rows or 'sample'}"
                runs = 1 if rows else args.runs
                results["ci"].append(bench_ci(folder, runs, rows, tuple(args.kinds.split(","))))
                save(results, args.out)  # each part's numbers survive a later part's failure
        pipeline = ({"overhead", "setup"} <= parts) or bool({"scale", "dask"} & parts)
        if pipeline:
            # One project for the next parts, in an order where none disturbs the next: the
            # set-up part's runs set it up (else one `make setup` does; also first when no CI
            # part has warmed the caches the set-up part measures with), the overhead part
            # reproduces the sample, then the scale and Dask parts point it at synthetic data.
            measured_setup = {"overhead", "setup"} <= parts
            project = bake(root, "pipeline", set_up=not measured_setup or "ci" not in parts)
        if {"overhead", "setup"} <= parts:
            setup = bench_setup(project, args.runs, args.pip_runs)
            results["overhead"] = bench_overhead(project, args.runs)
            results["setup"] = setup
            save(results, args.out)
        if {"scale", "dask"} & parts:
            results |= bench_sizes(project, sizes, parts)
            save(results, args.out)
        if "serve" in parts:
            if (args.serve_bundle is None) != (args.serve_data is None):
                sys.exit("bench: give --serve-bundle and --serve-data together, or neither")
            results["serve"] = bench_serve(
                root, args.runs, args.serve_bundle, args.serve_data, args.serve_requests
            )
    results["bench_seconds"] = time.perf_counter() - started
    save(results, args.out)
    print(tables(results))
    print(f"\nRaw numbers: {args.out} (the benchmark took {results['bench_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
