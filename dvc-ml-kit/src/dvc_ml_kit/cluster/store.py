"""Where the Dask engine keeps the prepared splits: in the workspace, or in an object store.

DVC 3 caches only outputs in the workspace, and a cluster's workers share no disk with it. With
``compute.store`` set (an ``s3://``, ``gs://`` or ``az://`` prefix), prepare writes each split's
Parquet partitions under ``<store>/prepared/<key>/<split>/`` and its output in the workspace is a
folder holding one small ``manifest.json``: the partitions' URL and each file's ETag. DVC caches
and pushes the manifests, and the run-cache restores them, like any output; train and evaluate
read the partitions from the store after checking that every file is still the one the manifest
names. ``key`` is a digest of what prepare read (the raw data's ETags or sizes and times, the
params, the code), so the same inputs write the same files to the same place and
``dvc repro --force`` leaves dvc.lock as it was. Old prefixes are not deleted: an object store's
lifecycle rule can expire them.
"""

import hashlib
import json
from pathlib import Path

from ..errors import UserError

MANIFEST = "manifest.json"
PACKAGE = Path(__file__).resolve().parents[1]


def _filesystem(url: str):
    import fsspec

    return fsspec.core.url_to_fs(url)


def tag(info: dict) -> str:
    """What tells a file's versions apart, from its fsspec ``info``: the store's ETag (or MD5),
    else its size and modification time (fsspec's own ``ukey`` hashes the whole info, time of
    the last write included, which would change with every identical write)."""
    for key in ("ETag", "etag", "md5Hash", "content_md5"):
        if info.get(key):
            return str(info[key]).strip('"')
    return f"size {info.get('size')} time {info.get('mtime') or info.get('LastModified')}"


def identity(url: str) -> list[str]:
    """Per file of ``url`` (a file or a folder, local or in a store), what tells its versions
    apart: the store's ETag, or the local file's MD5."""
    filesystem, path = _filesystem(url)
    files = sorted(filesystem.find(path)) if filesystem.isdir(path) else [path]
    local = "file" in filesystem.protocol  # a local file's time changes with every checkout
    return [
        f"{name.removeprefix(path)} {_md5(name) if local else tag(filesystem.info(name))}"
        for name in files
    ]


def _md5(path: str) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "md5").hexdigest()


def input_key(raw: str, params: dict) -> str:
    """A digest of what prepare reads: the raw data's identity, its params and its code."""
    code = hashlib.sha256()
    for source in sorted(PACKAGE.rglob("*.py")):
        code.update(source.relative_to(PACKAGE).as_posix().encode() + source.read_bytes())
    inputs = {"raw": identity(raw), "params": params, "code": code.hexdigest()}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:32]


def destination(path: Path, *, store: str | None, key: str) -> str:
    """Where the split at ``path`` is written: ``path`` itself, or its prefix in ``store``
    (emptied first: a run of the same inputs may have stopped half-way)."""
    if store is None:
        return str(path)
    url = f"{store.rstrip('/')}/prepared/{key}/{path.name.removesuffix('.parquet')}"
    filesystem, folder = _filesystem(url)
    if filesystem.exists(folder):
        filesystem.rm(folder, recursive=True)
    return url


def record(path: Path, url: str, partitions: int) -> None:
    """Once the split is written to ``url``: check that a workspace split is here (a remote
    cluster's workers write to disks of their own), or write the manifest of a store split."""
    if url == str(path):
        if len(list(path.glob("*.parquet"))) < partitions:
            raise UserError(
                f"the Dask workers wrote {path} to disks of their own, not to this workspace: "
                "set compute.store in params.yaml to an object-store prefix (s3://bucket/path) "
                "that they and this machine can both reach"
            )
        return
    filesystem, folder = _filesystem(url)
    listed = sorted(filesystem.ls(folder, detail=True), key=lambda info: info["name"])
    files = {Path(info["name"]).name: tag(info) for info in listed}
    path.mkdir(parents=True, exist_ok=True)
    manifest = {"url": url, "files": files}
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def read_split(path: Path):
    """The split at ``path`` as a Dask DataFrame, from the workspace or from the store its
    manifest names (refusing files that changed or went missing there)."""
    import dask.dataframe as dd

    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        return dd.read_parquet(path)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    url = manifest["url"]
    filesystem, folder = _filesystem(url)
    try:
        found = {Path(info["name"]).name: tag(info) for info in filesystem.ls(folder, detail=True)}
    except FileNotFoundError:
        found = {}
    changed = sorted(name for name, tag in manifest["files"].items() if found.get(name) != tag)
    if changed:
        raise UserError(
            f"{url}/{changed[0]}, which {manifest_path} lists, is missing from the store or was "
            f"replaced ({len(changed)} of {len(manifest['files'])} files): run "
            "`dvc repro --force prepare` to write the split again"
        )
    return dd.read_parquet([f"{url}/{name}" for name in manifest["files"]])
