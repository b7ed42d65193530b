"""serve: score rows sent over HTTP with a published model bundle.

``dvc-ml-kit serve dist/model-v1.0.0`` checks the bundle as ``predict`` does (checksums, the
types in its model, and with ``--version`` the digest its Git tag records) and refuses to start
on any problem; then it answers ``POST /predict`` with the same numbers ``dvc-ml-kit predict``
writes for the same rows. ``GET /docs`` shows the OpenAPI description, ``/openapi.json`` gives it.
"""

import argparse
import json
import logging
import math
import os
import socket
from pathlib import Path
from typing import Literal

import pandas as pd

from ..errors import UserError
from .bundle import KINDS, digest, features, load_bundle
from .columns import BOOLEAN_PAIRS
from .predict import one_line, scored, verify_version

# Rows one request may hold unless --max-rows says otherwise: a batch this size scores in well
# under a second, and a client with more sends several.
MAX_ROWS = 10_000
DEFAULT_PORT = 8000
# Where warnings about the rows go (uvicorn sets this logger up).
log = logging.getLogger("uvicorn.error")
# How the error bodies and the description name the JSON types a client sent.
JSON_KINDS = {
    dict: "an object",
    list: "a list",
    str: "text",
    bool: "true or false",
    int: "a number",
    float: "a number",
    type(None): "null",
}
EXAMPLE = '{"rows": [{"column": value, ...}, ...]}'


class Refused(Exception):
    """A request the service does not score: its HTTP status and one sentence saying why."""

    def __init__(self, status: int, sentence: str):
        super().__init__(sentence)
        self.status = status


def kind_of(value) -> str:
    return JSON_KINDS.get(type(value), type(value).__name__)


def unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object, refused if it names a key twice (json.loads would keep the last one; a
    CSV repeating a column is refused by predict too)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise Refused(422, f"the request names the key '{repeated}' twice in one object: keep one")
    return found


def read_request(body: bytes, max_rows: int) -> list[dict]:
    """The rows of a request's body ``{"rows": [{column: value, ...}, ...]}``, or Refused."""
    try:
        payload = json.loads(body, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as error:
        raise Refused(
            400,
            f"the request's body is not JSON ({error.msg} at line {error.lineno}, column "
            f"{error.colno}): send {EXAMPLE}",
        ) from None
    except (ValueError, RecursionError) as error:  # not text, too deep, a number too long
        raise Refused(
            400, f"the request's body cannot be read as JSON ({one_line(error)}): send {EXAMPLE}"
        ) from None
    if not isinstance(payload, dict):
        raise Refused(
            422, f"the request's body is {kind_of(payload)}, not an object: send {EXAMPLE}"
        )
    if "rows" not in payload:
        raise Refused(422, f'the request has no "rows" list: send {EXAMPLE}')
    rows = payload["rows"]
    if not isinstance(rows, list):
        raise Refused(422, f'the request\'s "rows" is {kind_of(rows)}, not a list: send {EXAMPLE}')
    if not rows:
        raise Refused(422, 'the request\'s "rows" list is empty: send at least one row to score')
    if len(rows) > max_rows:
        raise Refused(
            413,
            f"the request holds {len(rows):,} rows, more than the {max_rows:,} this service "
            f"scores at once: send them in batches of at most {max_rows:,}",
        )
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise Refused(
                422,
                f"row {number} of the request is {kind_of(row)}, not an object of column names "
                'and values: send each row as {"column": value, ...}',
            )
    return rows


def as_number(value):
    """An integer beyond 64 bits as a CSV reader gives it: a float, infinite beyond the floats
    (predict then refuses it in one sentence); any other value as it is."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


class Scorer:
    """A loaded bundle and how it scores the rows of a request."""

    def __init__(self, model, info: dict, folder: Path, max_rows: int = MAX_ROWS):
        from threadpoolctl import ThreadpoolController

        self.model, self.info, self.max_rows = model, info, max_rows
        self.threads = ThreadpoolController()
        self.digest = digest(folder)
        self.needed = list(model.feature_names_in_)
        columns = model.named_steps["columns"]
        # Read as text, as predict's main reads them from a CSV.
        raw = set(self.needed)
        self.categorical = {
            *(name for name in info.get("categorical_columns") or [] if name in raw),
            *(name for name in columns.categorical if name in raw),
        }
        self.classes = (
            [label.item() if hasattr(label, "item") else label for label in model.classes_]
            if info["task"] == "classification"
            else None
        )

    def frame(self, rows: list[dict]) -> pd.DataFrame:
        """The model's columns of ``rows`` as a DataFrame, as predict gets them from a CSV;
        other keys are ignored, as predict ignores other columns."""
        needed = set(self.needed)
        for number, row in enumerate(rows, 1):
            if not needed <= row.keys():
                missing = [name for name in self.needed if name not in row]
                raise Refused(
                    422,
                    f"row {number} of the request lacks columns the model needs: "
                    f"{', '.join(missing)} (give null for a value that is not known)",
                )
        data = {}
        for name in self.needed:
            values = [row[name] for row in rows]
            for number, value in enumerate(values, 1):
                if isinstance(value, dict | list):
                    raise Refused(
                        422,
                        f"row {number}, column '{name}' of the request holds {kind_of(value)}: "
                        "give a number, text, true or false, or null",
                    )
            if name in self.categorical:
                # As objects: a code 7 beside a gap stays 7 (pandas would make it 7.0), and the
                # model's first step reads it as the text '7', as predict reads a CSV's.
                data[name] = pd.Series(values, dtype=object)
            else:
                data[name] = pd.Series([as_number(value) for value in values])
        return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))

    def score(self, rows: list[dict]) -> dict:
        """The response to ``rows``: predict's numbers, and what predict would warn of."""
        frame = self.frame(rows)
        try:
            # One OpenMP thread per request: requests score side by side in the threadpool, and
            # gradient boosting's threads cost a single row several times its own work.
            with self.threads.limit(limits=1, user_api="openmp"):
                result, warnings = scored(self.model, frame, self.info)
        except UserError as error:
            raise Refused(422, str(error)) from None
        for line in warnings:
            log.warning("%s", line)
        answer = {
            "model": self.info["artifact"],
            "version": self.info["version"],
            "predictions": result["prediction"].tolist(),
        }
        if self.classes is not None:
            columns = [f"probability_{label}" for label in self.classes]
            table = result[columns].to_numpy("float64")
            answer["probabilities"] = [
                dict(zip(map(str, self.classes), row, strict=True)) for row in table.tolist()
            ]
        answer["warnings"] = warnings
        return answer

    def about(self) -> dict:
        info = self.info
        return {
            "artifact": info["artifact"],
            "version": info["version"],
            "digest": self.digest,
            "task": info["task"],
            "target": info.get("target"),
        }


# --- the OpenAPI description: the model's own columns and classes -------------------------------

NULL = {"type": "null"}


def column_schema(name: str, kind: str, scorer: Scorer) -> dict:
    """What a row may give for column ``name`` of kind ``kind`` (bundle.features' wording)."""
    columns = scorer.model.named_steps["columns"]
    if name in scorer.categorical:
        learned = list(getattr(columns, "categories_", {}).get(name, []))
        return {
            "anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}, NULL],
            "description": "a category, read as text (a number 7 is the category '7'); values "
            "the model did not learn are scored as one other value, with a warning",
            **({"examples": learned[:5]} if learned else {}),
        }
    if kind == KINDS["numeric"]:
        return {"anyOf": [{"type": "number"}, NULL], "description": "a number"}
    if kind == KINDS["booleans"]:
        tokens = [token for pair in BOOLEAN_PAIRS for token in pair]
        return {
            "anyOf": [{"type": "boolean"}, {"enum": [0, 1]}, {"enum": tokens}, NULL],
            "description": f"yes or no: true/false, 1/0, or one of {', '.join(tokens)} (any case)",
        }
    if kind == KINDS["dates"]:
        return {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
                NULL,
            ],
            "description": "an ISO 8601 date or time",
        }
    return {"description": f"a value {kind}"}


def request_schema(scorer: Scorer) -> dict:
    listed = [row for row in features(scorer.model) if not row.get("engineered")]
    row = {
        "type": "object",
        "description": "one row: a value for each column the model reads (null for a value "
        "that is not known); other keys are ignored, as dvc-ml-kit predict ignores other "
        "columns of a CSV",
        "properties": {
            entry["column"]: column_schema(entry["column"], entry["kind"], scorer)
            for entry in listed
        },
        "required": [entry["column"] for entry in listed],
        "additionalProperties": True,
    }
    return {
        "type": "object",
        "properties": {
            "rows": {
                "type": "array",
                "items": row,
                "minItems": 1,
                "maxItems": scorer.max_rows,
                "description": f"the rows to score, at most {scorer.max_rows:,} per request",
            }
        },
        "required": ["rows"],
    }


def response_schema(scorer: Scorer) -> dict:
    if scorer.classes is None:
        prediction = {"type": "number"}
        extra = {}
    else:
        prediction = {"enum": scorer.classes}
        names = [str(label) for label in scorer.classes]
        probability = {"type": "number", "minimum": 0, "maximum": 1}
        extra = {
            "probabilities": {
                "type": "array",
                "description": "per row, the probability of each class",
                "items": {
                    "type": "object",
                    "properties": dict.fromkeys(names, probability),
                    "required": names,
                    "additionalProperties": False,
                },
            }
        }
    return {
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "version": {"type": "string"},
            "predictions": {"type": "array", "items": prediction},
            **extra,
            "warnings": {
                "type": "array",
                "items": {"type": "string"},
                "description": "values the model did not learn (a new category, a number beyond "
                "every training value, a gap) and how it scored them, as predict warns of them",
            },
        },
        "required": ["model", "version", "predictions", *extra, "warnings"],
    }


ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "what is wrong, in one sentence"}},
    "required": ["detail"],
}


def errors(*statuses: int) -> dict:
    described = {
        400: "the body is not JSON",
        404: "no such model",
        413: "more rows than the service scores at once",
        422: "rows the model cannot score (a missing column, a value that does not fit): the "
        "same checks as dvc-ml-kit predict",
        500: "a fault of the service (its log says more)",
    }
    return {
        status: {
            "description": described[status],
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }
        for status in statuses
    }


# --- the application ---------------------------------------------------------------------------


def app_for(scorer: Scorer):
    """The FastAPI application that serves ``scorer``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response
    from pydantic import BaseModel, Field
    from starlette.concurrency import run_in_threadpool

    info = scorer.info
    app = FastAPI(
        title=f"{info['artifact']} {info['version']}",
        version=info["version"],
        description=f"A {info['task']} model of `{info.get('target')}`, served by dvc-ml-kit: "
        "`POST /predict` scores rows with the numbers `dvc-ml-kit predict` gives for them. "
        "Every refusal is a 4xx status with one sentence in `detail`.",
    )

    def refusal(status: int, sentence: str) -> JSONResponse:
        return JSONResponse({"detail": sentence}, status_code=status)

    @app.exception_handler(Exception)
    async def fault(request, error: Exception) -> JSONResponse:
        # A fault of the service, not of the request: the server's log gets the traceback.
        return refusal(
            500, f"the service failed ({type(error).__name__}): its log says more; report it"
        )

    class Health(BaseModel):
        status: Literal["ok"]
        version: str

    class Version(BaseModel):
        artifact: str
        version: str
        digest: str = Field(description="SHA-256 of the bundle's SHA256SUMS")
        task: Literal["classification", "regression"]
        target: str | None

    @app.get("/health", summary="Whether the service is up, and its model's version")
    def health() -> Health:
        return Health(status="ok", version=info["version"])

    @app.get("/version", summary="The model served: artifact, version, bundle digest, task, target")
    def version() -> Version:
        return Version(**scorer.about())

    def answer(body: bytes) -> bytes:
        rows = read_request(body, scorer.max_rows)
        return json.dumps(scorer.score(rows), allow_nan=False).encode()

    @app.post(
        "/predict",
        summary="Score rows",
        description=f"Send `{EXAMPLE}`, at most {scorer.max_rows:,} rows. Each row gives a "
        "value (or null) for every column the model reads; other keys are ignored, as "
        "`dvc-ml-kit predict` ignores other columns of a CSV. Category columns are read as "
        "text. Values the model did not learn are scored and listed in `warnings` (and the "
        "service's log).",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": request_schema(scorer)}},
            }
        },
        responses={
            200: {
                "description": "one prediction per row, in order",
                "content": {"application/json": {"schema": response_schema(scorer)}},
            },
            **errors(400, 413, 422, 500),
        },
    )
    async def predict_rows(request: Request) -> Response:
        body = await request.body()
        try:
            # In the threadpool: reading and scoring never hold up the server's loop.
            content = await run_in_threadpool(answer, body)
        except Refused as refused:
            return refusal(refused.status, str(refused))
        return Response(content, media_type="application/json")

    return app


# --- the command ---------------------------------------------------------------------------------


def default_port() -> int:
    """$PORT (a platform's convention for the port to listen on), else 8000."""
    given = os.environ.get("PORT", "")
    if not given:
        return DEFAULT_PORT
    if not given.isdigit() or int(given) > 65535:
        raise UserError(f"PORT is {given!r}, not a port number: set it to 1-65535 or give --port")
    return int(given)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port``, or one sentence saying why it cannot be."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port} is not a port number: give one from 1 to 65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise UserError(
            f"--host {host} is not an address of this machine ({error.strerror}): give one such "
            "as 127.0.0.1 or 0.0.0.0"
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise UserError(
            f"cannot listen on {host} port {port} ({error.strerror}): give another --port, or "
            "stop what listens there"
        ) from None
    return sock


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="folder of a published model bundle")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help=f"port to listen on (default: $PORT, else {DEFAULT_PORT}; 0: any)"
    )
    parser.add_argument(
        "--version",
        help="a published version (model@v1.2.0): the bundle must be the one its tag records",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=MAX_ROWS,
        help=f"rows one request may hold ({MAX_ROWS:,}); more are refused with status 413",
    )
    args = parser.parse_args()
    if args.max_rows < 1:
        raise UserError(f"--max-rows {args.max_rows} would refuse every request: give 1 or more")
    port = default_port() if args.port is None else args.port
    if args.version:
        verify_version(args.bundle, args.version)
    model, info = load_bundle(args.bundle)
    scorer = Scorer(model, info, args.bundle, args.max_rows)
    sock = listen(args.host, port)
    host, bound = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"serve: {info['artifact']} {info['version']} (bundle sha256 {scorer.digest}) on "
        f"http://{shown}:{bound}",
        flush=True,
    )
    config = uvicorn.Config(app_for(scorer), log_level="info", timeout_graceful_shutdown=10)
    uvicorn.Server(config).run(sockets=[sock])
