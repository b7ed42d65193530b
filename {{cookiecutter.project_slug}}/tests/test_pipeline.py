"""dvc.yaml is honest: its stages run their modules, list what they read, and draw the output
contract's plots; params.yaml holds every setting and gates that `make gate` accepts.

Whether the model beats the baseline on the data is the pipeline's to say (`dvc repro`, then the
gates), not the tests': they never read the data, which may be large or not in the workspace."""

import ast
import importlib
import re
import shlex
from pathlib import Path

import pytest
from dvc_ml_kit.ci.gate import problems
from dvc_ml_kit.contract import METRICS, PLOTS
from dvc_ml_kit.params import SETTINGS, load_params, read_yaml
from dvc_ml_kit.pins import pipeline_requirements

from {{ cookiecutter.module_name }}.stages import prepare

ROOT = Path(__file__).parents[1]
PARAMS_FILE = ROOT / "params.yaml"


# --- dvc.yaml: each stage lists everything its code reads, so its cache is never stale -----------


def _package() -> str:
    """The project's import package: the one folder under src/ with an __init__.py."""
    packages = [path.parent.name for path in (ROOT / "src").glob("*/__init__.py")]
    assert len(packages) == 1, packages
    assert packages[0] == prepare.__name__.split(".")[0]
    return packages[0]


PACKAGE = _package()
STAGES = read_yaml(ROOT / "dvc.yaml")["stages"]


def _interpolate(text: str) -> str:
    """Replace DVC's ``${key}`` with the value of ``key`` in params.yaml."""
    return re.sub(
        r"\$\{([\w.]+)\}",
        lambda match: str(load_params(PARAMS_FILE, [match[1]])[match[1]]),
        text,
    )


def _paths(entries: list) -> set[str]:
    """Paths of a dvc.yaml deps/outs/metrics list, whose items are paths or {path: options}."""
    paths = set()
    for entry in entries or []:
        paths.update(entry if isinstance(entry, dict) else [entry])
    return {_interpolate(path) for path in paths}


def _source(module: str) -> Path:
    parts = module.split(".")
    path = ROOT / "src" / Path(*parts)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _imported_sources(module: str) -> set[str]:
    """Project files (relative to the root) that ``module`` runs: itself and what it imports from
    the package, transitively."""
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        # Importing a submodule runs the packages that hold it too.
        parts = current.split(".")
        todo += [".".join(parts[:end]) for end in range(1, len(parts))]
        path = _source(current)
        relative = path.relative_to(ROOT).as_posix()
        if relative in seen:
            continue
        assert path.is_file(), f"{current} imports a module with no file: {path}"
        seen.add(relative)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = current.split(".")[: -node.level]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from package import name` may import a submodule called name.
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
                names = [name for name in names if name == base or _source(name).is_file()]
            else:
                continue
            todo += [name for name in names if name.split(".")[0] == PACKAGE]
    return seen


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_cmd_runs_its_module(stage):
    command = shlex.split(_interpolate(STAGES[stage]["cmd"]))
    assert command[:3] == ["python", "-m", f"{PACKAGE}.stages.{stage}"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_params_are_exactly_what_its_module_reads(stage):
    listed = STAGES[stage].get("params", [])
    reads = importlib.import_module(f"{PACKAGE}.stages.{stage}").PARAMS
    assert set(listed) == set(reads)
    assert len(listed) == len(reads)
    load_params(PARAMS_FILE, reads)  # and params.yaml has each of them, of the right type


def test_every_setting_is_read_by_a_stage_or_by_dvc_yaml():
    listed = {key for spec in STAGES.values() for key in spec.get("params", [])}
    interpolated = set(re.findall(r"\$\{([\w.]+)\}", (ROOT / "dvc.yaml").read_text("utf-8")))
    assert set(SETTINGS) == listed | interpolated
    # params.yaml has each setting, of its type, and none that nothing reads.
    assert set(load_params(PARAMS_FILE, SETTINGS)) == set(SETTINGS)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_list_its_code(stage):
    deps = _paths(STAGES[stage].get("deps"))
    sources = _imported_sources(f"{PACKAGE}.stages.{stage}")
    assert f"src/{PACKAGE}/stages/{stage}.py" in sources
    assert f"src/{PACKAGE}/stages/__init__.py" in sources
    assert f"src/{PACKAGE}/__init__.py" in sources
    assert sources <= deps, f"missing from deps: {sorted(sources - deps)}"
    # dvc-ml-kit and the libraries that compute results, by their pinned versions.
    assert "pipeline-requirements.txt" in deps
    for dep in deps:
        if dep.startswith("src/"):
            assert (ROOT / dep).is_file(), f"{dep} in deps does not exist"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_cmd_paths_are_deps_or_outs(stage):
    spec = STAGES[stage]
    tracked = set().union(
        *(_paths(spec.get(kind)) for kind in ("deps", "outs", "metrics", "plots"))
    )
    arguments = shlex.split(_interpolate(spec["cmd"]))[3:]
    paths = [
        arg for arg in arguments if arg.split("/")[0] in ("data", "models", "evaluation", "metrics")
    ]
    assert paths, "the command names no data or model files"
    for path in paths:
        # A folder argument is covered by the files declared in it, a file by its declared folder.
        covered = any(
            path == item or item.startswith(f"{path}/") or path.startswith(f"{item}/")
            for item in tracked
        )
        assert covered, f"{path} is in the command but not in deps, outs, metrics or plots"


def test_the_stages_pinned_libraries_are_those_of_the_requirements_files():
    locks = [
        (ROOT / name).read_text(encoding="utf-8")
        for name in ("requirements.txt", "requirements-dask.txt")
        if (ROOT / name).is_file()
    ]
    written = (ROOT / "pipeline-requirements.txt").read_text(encoding="utf-8")
    assert written == pipeline_requirements(*locks), "run `make pins` after re-pinning"


def test_data_file_is_the_prepare_dependency():
    params = load_params(PARAMS_FILE, ["data.file"])
    assert params["data.file"] in _paths(STAGES["prepare"]["deps"])
    if "://" not in params["data.file"]:  # in an object store, DVC tracks it by its ETag
        # The data itself may be absent (CI does not fetch it when prepare is unchanged).
        assert (ROOT / f"{params['data.file']}.dvc").is_file()


def test_every_stage_module_is_a_stage():
    modules = {path.stem for path in (ROOT / "src" / PACKAGE / "stages").glob("*.py")}
    assert modules - {"__init__"} == set(STAGES)


def test_plots_are_the_output_contracts():
    task = load_params(PARAMS_FILE, ["data.task"])["data.task"]
    declared = {}
    for spec in STAGES.values():
        for entry in spec.get("plots") or []:
            declared.update(entry)
    drawn = {Path(path).name: (options["x"], options["y"]) for path, options in declared.items()}
    assert drawn == {name: (plot.x, plot.y) for name, plot in PLOTS[task].items()}
    folders = {Path(path).parent.as_posix() for path in declared}
    assert len(folders) == 1, "the report reads the plots from one folder"


def test_the_metrics_file_is_the_one_git_keeps():
    declared = [entry for spec in STAGES.values() for entry in spec.get("metrics") or []]
    assert len(declared) == 1, "the gates and the report read one metrics file"
    [(path, options)] = declared[0].items()
    assert options == {"cache": False}
    assert path.endswith(".json")


def test_the_gates_are_ones_make_gate_accepts():
    # Thresholds are the user's own (none come with the project); a removed line drops a gate.
    task = load_params(PARAMS_FILE, ["data.task"])["data.task"]
    gates = read_yaml(PARAMS_FILE).get("gates")
    assert problems(gates, METRICS[task], "params.yaml") == []
