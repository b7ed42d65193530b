"""The published model bundle: a model that loads without running code, with its card and checksums.

A bundle is a folder: ``model.skops`` (skops format: loading it builds only allowed types and runs
no pickled code), ``bundle.json`` (what the model is and where it came from), ``model_card.md``,
``metrics.json`` and ``SHA256SUMS`` (``sha256sum -c SHA256SUMS`` checks it too).
"""

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

from ..contract import BASELINE, MODEL
from ..errors import UserError
from ..project import own_code

MODEL_FILE = "model.skops"
INFO_FILE = "bundle.json"
CARD_FILE = "model_card.md"
METRICS_FILE = "metrics.json"
SUMS_FILE = "SHA256SUMS"
# Types a published model may contain beyond those skops trusts by default (scikit-learn's
# estimators, NumPy arrays, built-in containers). Anything else is refused, never built.
# Gradient boosting with categorical features holds partial(check_array); skops lists the
# function inside a partial on its own, so partial(os.system) is still refused as posix.system.
# The model's own steps are this package's ColumnKinds and, trained on Dask, BoostedTrees (plain
# text, lists and dicts inside); the project's own features and models are trusted by
# project.own_code(), from the installed project, never from the bundle.
ALLOWED_TYPES = [
    f"{__package__}.boosted.BoostedTrees",
    f"{__package__}.columns.ColumnKinds",
    "functools.partial",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils.validation.check_array",
]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# How the model card names each kind of input column of ColumnKinds.
KINDS = {"numeric": "number", "booleans": "yes/no", "dates": "date", "categorical": "category"}


# The kind of a raw column that only the project's features read (and leave out).
FEATURES_ONLY = "read by the project's features"


def features(model) -> list[dict[str, str]]:
    """The columns of a row the model reads, each with its kind, in the order of its input;
    then the columns the project's features add (``"engineered": True``), which a row to score
    need not have."""
    columns = model.named_steps["columns"]
    kinds = {
        name: kind for attribute, kind in KINDS.items() for name in getattr(columns, attribute)
    }
    raw = list(model.feature_names_in_)
    inputs = [{"column": name, "kind": kinds.get(name, FEATURES_ONLY)} for name in raw]
    added = [name for name in kinds if name not in raw]
    return inputs + [{"column": name, "kind": kinds[name], "engineered": True} for name in added]


def model_card(info: dict, metrics: dict) -> str:
    """The model card: what the model is, where it came from, how it scores, how to use it."""
    rows = [
        f"| {name} | {value:.4g} | {metrics[BASELINE].get(name, float('nan')):.4g} |"
        for name, value in metrics[MODEL].items()
    ]
    settings = json.dumps(info["params"], indent=2)
    listed = info.get("features", [])
    inputs = [
        f"| `{row['column']}` | {row['kind']} |" for row in listed if not row.get("engineered")
    ]
    added = [f"| `{row['column']}` | {row['kind']} |" for row in listed if row.get("engineered")]
    engineered = [
        "",
        "The project's features add these from them, inside the model (a row need not have them):",
        "",
        "| Column | Kind |",
        "| --- | --- |",
        *added,
    ]
    libraries = ", ".join(f"{name} {version}" for name, version in info["libraries"].items())
    return "\n".join(
        [
            f"# {info['artifact']} {info['version']}",
            "",
            f"A {info['task']} model of `{info['target']}`, built by this repository's pipeline.",
            "",
            f"- Code revision: `{info['revision']}`",
            f"- Training data: `{info['data']['path']}` (md5 `{info['data']['md5']}`)",
            f"- Model file in the DVC cache: md5 `{info['model_md5']}`",
            f"- Python {info['python']}; {libraries}",
            "",
            "## Metrics (test split)",
            "",
            "| Metric | Model | Baseline |",
            "| --- | ---: | ---: |",
            *rows,
            "",
            "## Features",
            "",
            f"The model reads these {len(inputs)} columns of a row; it ignores any other column.",
            "Category values shared by fewer than a few training rows were left out of the model.",
            "",
            "| Column | Kind |",
            "| --- | --- |",
            *inputs,
            *(engineered if added else []),
            "",
            "## Parameters",
            "",
            "```json",
            settings,
            "```",
            "",
            "## Use",
            "",
            "Download every file of the release into one folder, then:",
            "",
            "```sh",
            "sha256sum -c SHA256SUMS",
            "dvc-ml-kit predict <folder> rows.csv predictions.csv",
            "```",
            "",
            "`predict` checks the checksums and the types in the model before loading it.",
            "",
        ]
    )


# A fixed time for the entries of model.skops (the earliest a zip file can hold).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def stable_skops(model) -> bytes:
    """``model`` in the skops format, the same bytes each time the same model file (train's
    pickle) is loaded and written: a publish run that builds a version's bundle again (a rerun
    on a fresh runner) must get the digest its tag records. skops names arrays and shared
    objects by ``id()`` (``"__id__"`` and ``"file"`` in schema.json) and stamps its zip entries
    with the time: both are renumbered in the order schema.json lists them, and the time
    fixed."""
    import skops.io

    written = zipfile.ZipFile(io.BytesIO(skops.io.dumps(model)))
    schema = json.loads(written.read("schema.json"))
    numbers: dict[object, int] = {}
    renamed: dict[str, str] = {}

    def renumber(node) -> None:
        if isinstance(node, list):
            for item in node:
                renumber(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int):
                    node[key] = numbers.setdefault(value, len(numbers))
                elif key == "file" and isinstance(value, str) and value in written.namelist():
                    stem, suffix = value.split(".", 1)
                    number = numbers.setdefault(int(stem) if stem.isdigit() else stem, len(numbers))
                    node[key] = renamed.setdefault(value, f"{number}.{suffix}")
                else:
                    renumber(value)

    renumber(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as stable:
        for old, new in sorted(renamed.items(), key=lambda names: names[1]):
            stable.writestr(zipfile.ZipInfo(new, ZIP_TIME), written.read(old))
        stable.writestr(zipfile.ZipInfo("schema.json", ZIP_TIME), json.dumps(schema, indent=2))
    return out.getvalue()


def write_bundle(folder: Path, model, info: dict, card: str, metrics: dict) -> list[Path]:
    """Write a bundle for ``model`` into ``folder`` (created, must not exist); return its files."""
    files = {
        MODEL_FILE: stable_skops(model),
        INFO_FILE: (json.dumps(info, indent=2) + "\n").encode(),
        CARD_FILE: card.encode(),
        METRICS_FILE: (json.dumps(metrics, indent=2) + "\n").encode(),
    }
    return write_files(folder, files)


def write_files(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Write ``files`` (name: content) and their SHA256SUMS into ``folder`` (created, must not
    exist); return the paths written."""
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    written = sorted(folder / name for name in files)
    sums = "".join(f"{sha256(path)}  {path.name}\n" for path in written)
    (folder / SUMS_FILE).write_text(sums, encoding="utf-8")
    return [*written, folder / SUMS_FILE]


# One line of SHA256SUMS: a SHA-256 digest, then two spaces or " *" (sha256sum -b), then a name.
SUMS_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")
# Keys bundle.json must hold for predict and the model card.
INFO_KEYS = ("artifact", "version", "task")


def digest(folder: Path) -> str:
    """The bundle's digest: the SHA-256 of its SHA256SUMS, which pins every file in it."""
    return sha256(folder / SUMS_FILE)


def digest_in(message: str) -> str | None:
    """The bundle digest a version tag's message records (``bundle sha256 <hex>``), if any."""
    match = re.search(r"bundle sha256 ([0-9a-f]{64})", message)
    return match[1] if match else None


def checksums(folder: Path) -> dict[str, str]:
    """``{file name: digest}`` of the bundle's SHA256SUMS; only plain names of files in the
    bundle's own folder are accepted, so nothing outside it is ever read."""
    sums_path = folder / SUMS_FILE
    if not sums_path.is_file():
        raise UserError(f"{folder} is not a model bundle: it has no {SUMS_FILE}")
    listed = {}
    for number, line in enumerate(sums_path.read_text(encoding="utf-8").splitlines(), 1):
        match = SUMS_LINE.fullmatch(line)
        if not match:
            raise UserError(
                f"line {number} of {sums_path} is not '<sha256>  <file>': the bundle was altered"
            )
        digest, name = match.groups()
        if name in (".", "..") or "/" in name or "\\" in name:
            raise UserError(
                f"{sums_path} lists '{name}', which is not a file of the bundle's own folder: "
                "the bundle was altered, so nothing in it is read"
            )
        listed[name] = digest
    return listed


def verify(folder: Path) -> None:
    """Check that ``folder`` holds exactly the files of SHA256SUMS, each with its checksum."""
    # Reading a link reads its target, which may lie outside the bundle and change after the
    # check: a bundle holds plain files only. (The folder itself may be a link, such as a
    # "latest" one: every file is still read from the one folder it points to.)
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    links = [path.name for path in files if path.is_symlink()]
    if links:
        raise UserError(
            f"{folder}/{links[0]} is a link, not a file: a bundle holds plain files only, so it "
            "is not loaded; download the bundle again"
        )
    listed = checksums(folder)
    present = {path.name for path in files} - {SUMS_FILE}
    extra = sorted(present - listed.keys())
    if extra:
        raise UserError(f"{folder}/{extra[0]} is not listed in {SUMS_FILE}: the bundle was altered")
    for name, digest in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            raise UserError(f"{path} is missing: the bundle is incomplete, download it again")
        if sha256(path) != digest:
            raise UserError(
                f"{path} does not match its checksum in {SUMS_FILE}: the bundle was altered or "
                "damaged, so it is not loaded; download it again"
            )


def read_info(folder: Path) -> dict:
    """bundle.json, checked to hold what predict needs."""
    path = folder / INFO_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(
            f"{path} is not a readable JSON file ({error}): the bundle is damaged"
        ) from None
    missing = [key for key in INFO_KEYS if not isinstance(info, dict) or key not in info]
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)}: the bundle is incomplete")
    return info


def fitted(estimator) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


# The kind of model each task of bundle.json needs (scikit-learn's estimator type).
ESTIMATOR_TYPES = {"classification": "classifier", "regression": "regressor"}


def check_model(model, info: dict, path: Path) -> None:
    """Refuse a model that predict cannot use as bundle.json describes it: any model that skops
    loads passes the type check, and checksums rewritten for it pass verification."""
    from sklearn.utils import get_tags

    from .columns import ColumnKinds

    columns = getattr(model, "named_steps", {}).get("columns")
    if not (isinstance(columns, ColumnKinds) and fitted(columns) and fitted(model)):
        raise UserError(
            f"{path} is not a model this package trained (a fitted Pipeline whose 'columns' step "
            "reads raw rows), so it is not loaded"
        )
    task = info["task"]
    if task not in ESTIMATOR_TYPES:
        raise UserError(
            f"{path.parent / INFO_FILE} gives the task {task!r}, which is neither "
            f"{' nor '.join(ESTIMATOR_TYPES)}: the bundle is damaged"
        )
    # A model of the project's own may not declare its type: then its methods decide.
    found = get_tags(model).estimator_type
    usable = task == "regression" or hasattr(model, "predict_proba")
    if found not in (ESTIMATOR_TYPES[task], None) or not usable:
        raise UserError(
            f"{path} is not a {task} model, which {INFO_FILE} says it is: the bundle was "
            "altered, so it is not loaded"
        )
    listed = info.get("features")
    reads = [row["column"] for row in features(model)]
    # Names, not order or wording: bundle.json's list may come from an earlier package version.
    if listed is not None and {row.get("column") for row in listed} != set(reads):
        names = ", ".join(reads)
        raise UserError(
            f"{path} reads other columns ({names}) than {INFO_FILE} lists: the bundle was "
            "altered, so it is not loaded"
        )


def load_bundle(folder: Path):
    """Verify the bundle in ``folder`` and return ``(model, info)``; refuse anything unexpected."""
    import skops.io

    verify(folder)
    model_path = folder / MODEL_FILE
    try:
        found = skops.io.get_untrusted_types(file=model_path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:  # skops' readers
        raise UserError(
            f"{model_path} is not a skops model file ({type(error).__name__}): it is not loaded"
        ) from None
    trusted = [*ALLOWED_TYPES, *own_code()]
    unexpected = sorted(set(found) - set(trusted))
    if unexpected:
        raise UserError(
            f"{model_path} contains types that a published model may not hold "
            f"({', '.join(unexpected)}), so it is not loaded"
        )
    # The types first: a model that may not be loaded is refused whatever bundle.json says.
    model, info = skops.io.load(model_path, trusted=trusted), read_info(folder)
    check_model(model, info, model_path)
    return model, info
