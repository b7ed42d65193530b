"""dvc-ml-kit serve, run as a user runs it (a process listening on a port): the numbers of
``dvc-ml-kit predict``, one sentence per bad request with the service still serving after, no
start from a tampered bundle, a bounded load, and schemathesis against its own description."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dvc_ml_kit.model.bundle import features, write_bundle
from registry import train

# The command as installed beside this Python (the package is installed in the test run's venv).
COMMAND = [str(Path(sys.executable).with_name("dvc-ml-kit"))]
# Rows one request may hold in these tests (the default, 10,000, is too many to send cheaply).
MAX_ROWS = 500
STARTED = "serve: "


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Training rows: numbers, a category of number-like codes, yes/no, a date, two targets."""
    rng = np.random.default_rng(0)
    size = 200
    level, spread = rng.normal(size=size), rng.normal(size=size)
    return pd.DataFrame(
        {
            "level": level,
            "spread": spread,
            "code": rng.choice(["7", "12", "30"], size=size),
            "member": rng.random(size) < 0.5,
            "joined": pd.date_range("2024-01-01", periods=size, freq="D"),
            "label": np.where(level + spread > 0, "yes", "no"),
            "amount": 3 * level - spread + rng.normal(size=size),
        }
    )


def published(frame, folder: Path, task: str) -> Path:
    target, other = ("label", "amount") if task == "classification" else ("amount", "label")
    model = train(
        frame.drop(columns=[other]),
        task=task,
        target=target,
        estimator="linear",
        hyperparameters=None,
        seed=0,
    )
    info = {
        "artifact": "model",
        "version": "v1.0.0",
        "task": task,
        "target": target,
        "categorical_columns": ["code"],
        "features": features(model),
    }
    write_bundle(folder, model, info, "# card\n", {"model": {}})
    return folder


@pytest.fixture(scope="module")
def bundles(frame, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bundles")
    return {task: published(frame, root / task, task) for task in ("classification", "regression")}


@pytest.fixture(scope="module")
def csv(frame, tmp_path_factory) -> Path:
    """Rows to score as a user's CSV holds them: an id and the target too (both ignored), the
    codes as numbers, a new code, gaps, a number far beyond training."""
    rows = frame.head(40).drop(columns=["amount"])
    rows = rows.assign(
        member=np.where(rows["member"], "yes", "no"), joined=rows["joined"].dt.strftime("%F")
    )
    rows.insert(0, "id", range(1000, 1000 + len(rows)))
    rows.loc[3, "code"] = "99"
    rows.loc[4, "code"] = None
    rows.loc[5, "level"] = np.nan
    rows.loc[6, "joined"] = None
    rows.loc[8, "spread"] = 1e6
    path = tmp_path_factory.mktemp("rows") / "rows.csv"
    rows.to_csv(path, index=False)
    return path


def json_rows(path: Path) -> list[dict]:
    """The CSV's rows as a client sends them: the codes as whole numbers (7, not "7"), a gap as
    null."""
    rows = pd.read_csv(path, dtype={"code": "Int64"})
    return rows.astype(object).where(rows.notna(), None).to_dict("records")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``dvc-ml-kit serve`` as a process, its output in files; stopped by its pid."""

    def __init__(self, bundle: Path, folder: Path, *args: str, env: dict | None = None):
        folder.mkdir(parents=True, exist_ok=True)
        self.out, self.err = folder / "stdout", folder / "stderr"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen(
                [*COMMAND, "serve", str(bundle), "--host", "127.0.0.1", *args],
                stdout=out,
                stderr=err,
                env={**os.environ, **(env or {})},
                cwd=folder,
            )
        self.url = None

    def wait(self, seconds: float = 90) -> "Server":
        """Until it answers /health (it prints its address once the bundle is loaded)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited {self.process.returncode}:\n{self.err.read_text()}")
            started = [
                line for line in self.out.read_text().splitlines() if line.startswith(STARTED)
            ]
            if started:
                self.url = started[0].rsplit(" on ", 1)[1]
                try:
                    if call(self.url, "GET", "/health")[0] == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"serve did not start in {seconds} s:\n{self.err.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


def call(url: str, method: str, path: str, body: bytes | dict | None = None):
    """An HTTP request: its status and its JSON body."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(
        url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def servers(bundles, tmp_path_factory):
    """One server per task, started together: the classification one on --port 0 (any free
    port), the regression one on the port $PORT gives."""
    root = tmp_path_factory.mktemp("servers")
    started = {
        "classification": Server(
            bundles["classification"], root / "c", "--port", "0", "--max-rows", str(MAX_ROWS)
        ),
        "regression": Server(
            bundles["regression"], root / "r", env={"PORT": str(port := free_port())}
        ),
    }
    try:
        for server in started.values():
            server.wait()
        assert started["regression"].url == f"http://127.0.0.1:{port}"
        yield {task: server.url for task, server in started.items()}
    finally:
        for server in started.values():
            server.stop()


def predicted(bundle: Path, csv: Path, folder: Path) -> tuple[pd.DataFrame, list[str]]:
    """``dvc-ml-kit predict``'s predictions (as its CSV) and warnings."""
    out = folder / "predictions.csv"
    done = subprocess.run(
        [*COMMAND, "predict", str(bundle), str(csv), str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    warnings = [line.removeprefix("warning: ") for line in done.stderr.splitlines()]
    return pd.read_csv(out), warnings


# --- the numbers of dvc-ml-kit predict -----------------------------------------------------------


def test_rows_are_scored_as_predict_scores_them(servers, bundles, csv, tmp_path):
    expected, warnings = predicted(bundles["classification"], csv, tmp_path)
    status, answer = call(servers["classification"], "POST", "/predict", {"rows": json_rows(csv)})
    assert status == 200, answer
    assert answer["model"] == "model" and answer["version"] == "v1.0.0"
    assert answer["predictions"] == expected["prediction"].tolist()
    assert answer["probabilities"] == [
        {"no": row.probability_no, "yes": row.probability_yes} for row in expected.itertuples()
    ]
    # The same warnings, the new code named as text ('99'); codes sent as numbers (7, 30) are
    # the learned categories '7' and '30', not new values.
    assert answer["warnings"] == warnings
    assert "column 'code': 1 of 40 rows hold values the model did not learn (such as '99')" in (
        " ".join(warnings)
    )
    assert not [line for line in warnings if "'7'" in line or "'30'" in line]


def test_a_code_sent_as_a_number_scores_as_the_same_text(servers):
    # A gap beside it: a column of numbers and a gap is no longer read as whole numbers (7.0).
    numbers = [{**GOOD, "code": 7}, {**GOOD, "code": None}]
    text = [{**GOOD, "code": "7"}, {**GOOD, "code": None}]
    first = call(servers["classification"], "POST", "/predict", {"rows": numbers})
    second = call(servers["classification"], "POST", "/predict", {"rows": text})
    assert first == second
    assert first[1]["warnings"] == ["column 'code': 1 of 2 rows have no value, scored as 'missing'"]


def test_regression_rows_are_scored_as_predict_scores_them(servers, bundles, csv, tmp_path):
    expected, warnings = predicted(bundles["regression"], csv, tmp_path)
    rows = json_rows(csv)
    status, answer = call(servers["regression"], "POST", "/predict", {"rows": rows})
    assert status == 200, answer
    assert answer["predictions"] == expected["prediction"].tolist()
    assert "probabilities" not in answer and answer["warnings"] == warnings


def test_health_and_version_name_the_bundle(servers, bundles):
    from dvc_ml_kit.model.bundle import digest

    url = servers["classification"]
    assert call(url, "GET", "/health") == (200, {"status": "ok", "version": "v1.0.0"})
    assert call(url, "GET", "/version") == (
        200,
        {
            "artifact": "model",
            "version": "v1.0.0",
            "digest": digest(bundles["classification"]),
            "task": "classification",
            "target": "label",
        },
    )


def test_the_description_names_the_model_s_columns_and_classes(servers):
    _, described = call(servers["classification"], "GET", "/openapi.json")
    operation = described["paths"]["/predict"]["post"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]
    rows = request["properties"]["rows"]
    assert rows["maxItems"] == MAX_ROWS and rows["minItems"] == 1
    assert set(rows["items"]["required"]) == {"level", "spread", "code", "member", "joined"}
    assert rows["items"]["additionalProperties"] is True
    assert "other keys are ignored" in operation["description"]
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert response["properties"]["predictions"]["items"] == {"enum": ["no", "yes"]}
    for status in ("400", "413", "422"):
        error = operation["responses"][status]["content"]["application/json"]["schema"]
        assert error["required"] == ["detail"]


# --- bad requests: one sentence each, and the service still serves -------------------------------

GOOD = {"level": 0.5, "spread": -0.2, "code": 7, "member": "yes", "joined": "2024-03-01"}
BAD = {
    "not JSON": (b"{rows: [", 400, "the request's body is not JSON (Expecting property name"),
    "not UTF-8": (b"\xff\xfe\xff", 400, "the request's body cannot be read as JSON ("),
    "a number of 5,000 digits": (
        b'{"rows": [{"level": 1' + b"0" * 5000 + b"}]}",
        400,
        "the request's body cannot be read as JSON (Exceeds the limit",
    ),
    "a list": (b"[1, 2]", 422, "the request's body is a list, not an object"),
    "no rows": ({"row": [GOOD]}, 422, 'the request has no "rows" list'),
    "rows an object": ({"rows": GOOD}, 422, 'the request\'s "rows" is an object, not a list'),
    "no row": ({"rows": []}, 422, 'the request\'s "rows" list is empty'),
    "a row a number": ({"rows": [GOOD, 3]}, 422, "row 2 of the request is a number, not an object"),
    "missing": (
        {"rows": [GOOD, {"level": 1.0, "code": "7"}]},
        422,
        "row 2 of the request lacks columns the model needs: spread, member, joined",
    ),
    "text for a number": (
        {"rows": [{**GOOD, "level": "high"}]},
        422,
        "the input's values do not fit the model (column 'level' must hold numbers",
    ),
    "not yes or no": (
        {"rows": [{**GOOD, "member": "maybe"}]},
        422,
        "column 'member' has 'maybe', which is not a yes/no value",
    ),
    "a list for a value": (
        {"rows": [{**GOOD, "code": [7]}]},
        422,
        "row 1, column 'code' of the request holds a list",
    ),
    "a key twice": (
        b'{"rows": [{"level": 1, "level": 2}]}',
        422,
        "the request names the key 'level' twice in one object",
    ),
    "infinite": (
        b'{"rows": [{"level": 1e999, "spread": 0, "code": 7, "member": "no", "joined": null}]}',
        422,
        "column 'level' holds infinite numbers in 1 of 1 rows",
    ),
    "a number beyond the floats": (
        b'{"rows": [{"level": 1' + b"0" * 400 + b', "spread": 0, "code": 7, "member": "no", '
        b'"joined": null}]}',
        422,
        "column 'level' holds infinite numbers in 1 of 1 rows",
    ),
    "too many rows": (
        {"rows": [GOOD] * (MAX_ROWS + 1)},
        413,
        f"the request holds {MAX_ROWS + 1} rows, more than the {MAX_ROWS} this service scores",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_request_is_one_sentence_and_the_service_serves_on(servers, case):
    body, status, sentence = BAD[case]
    url = servers["classification"]
    found, answer = call(url, "POST", "/predict", body)
    assert found == status, answer
    assert list(answer) == ["detail"] and sentence in answer["detail"], answer
    assert "\n" not in answer["detail"] and "Traceback" not in answer["detail"]
    assert call(url, "POST", "/predict", {"rows": [GOOD]})[0] == 200


def test_extra_keys_are_ignored_as_predict_ignores_extra_columns(servers):
    url = servers["classification"]
    plain = call(url, "POST", "/predict", {"rows": [GOOD]})
    extra = call(url, "POST", "/predict", {"rows": [{**GOOD, "label": "no", "note": [1]}]})
    assert plain == extra and plain[0] == 200


# --- a bundle it must not serve ------------------------------------------------------------------


def refused(bundle: Path, folder: Path, *args: str) -> str:
    """serve's one line on stderr when it exits 1 before listening."""
    server = Server(bundle, folder, *args)
    try:
        server.process.wait(timeout=90)
    finally:
        server.stop()
    err = server.err.read_text()
    assert server.process.returncode == 1, err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert server.out.read_text() == ""
    return err


def test_a_tampered_bundle_does_not_start(bundles, tmp_path):
    bundle = shutil.copytree(bundles["classification"], tmp_path / "bundle")
    model = bundle / "model.skops"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 1
    model.write_bytes(bytes(data))
    err = refused(bundle, tmp_path / "run", "--port", "0")
    assert err == (
        f"error: {model} does not match its checksum in SHA256SUMS: the bundle was altered or "
        "damaged, so it is not loaded; download it again\n"
    )


def test_a_port_in_use_is_one_sentence(bundles, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = refused(bundles["regression"], tmp_path, "--port", str(port))
    assert f"cannot listen on 127.0.0.1 port {port} (Address already in use)" in err


# --- a bounded load, and schemathesis ------------------------------------------------------------


def test_a_bounded_load_is_served_without_an_error(servers, csv):
    url = servers["classification"]
    rows = json_rows(csv)[:100]  # each answered once alone first, for the expected answers
    expected = {
        number: call(url, "POST", "/predict", {"rows": [row]})[1] for number, row in enumerate(rows)
    }

    def one(number: int):
        return call(url, "POST", "/predict", {"rows": [rows[number % len(rows)]]})

    started, count = time.perf_counter(), 1000
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(count)))
    seconds = time.perf_counter() - started
    print(f"{count} requests at concurrency 16: {seconds:.1f} s ({count / seconds:.0f} per second)")
    assert [status for status, _ in answers] == [200] * count
    assert all(answer == expected[number % len(rows)] for number, (_, answer) in enumerate(answers))


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(servers, tmp_path):
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{servers['classification']}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--max-examples",
            "60",
            "--seed",
            "1",
            "--workers",
            "1",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    found = json.loads(report.read_text())
    assert done.returncode == 0 and found["failures"] == [], done.stdout[-3000:]
    assert found["operations"]["tested"] == 3
    # Most requests it makes of /predict are rows the model scores (status 200).
    accepted = sum(phase["accepted"] for phase in found["valid_rates"]["POST /predict"].values())
    print(f"schemathesis: {found['test_cases']['generated']} cases, {accepted} scored")
    assert found["test_cases"]["generated"] >= 100 and accepted >= 50
