"""GitLab's API as the report note, the release and the data refresh's merge request use it,
against a stand-in server on loopback that answers as GitLab does and records every request."""

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from dvc_ml_kit.ci.comment import (
    WATERMARK,
    post,
)
from dvc_ml_kit.ci.gitlab import (
    GitLab,
)
from dvc_ml_kit.ci.publish import (
    release,
    release_exists,
    release_plan,
)
from dvc_ml_kit.ci.refresh_mr import (
    open_merge_request,
)
from dvc_ml_kit.errors import (
    UserError,
)

TOKEN = "glpat-stand-in-token"
PROJECT = "42"


class StandIn(BaseHTTPRequestHandler):
    """Merge request notes (two per page), merge requests, releases and generic packages of one
    project."""

    def log_message(self, *args):  # quiet
        pass

    def answer(self, status: int, body: object = None, headers: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self) -> None:
        server = self.server
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        token = self.headers.get("PRIVATE-TOKEN")
        request = {"method": self.command, "path": url.path, "query": url.query}
        request |= {"token": token, "body": body}
        server.requests.append(request)
        if token != TOKEN:
            return self.answer(401, {"message": "401 Unauthorized"})
        base = f"/api/v4/projects/{PROJECT}"
        notes = f"{base}/merge_requests/7/notes"
        if url.path == notes and self.command == "GET":
            page = int(parse_qs(url.query)["page"][0])
            chunk = server.notes[2 * (page - 1) : 2 * page]
            more = {"X-Next-Page": str(page + 1)} if len(server.notes) > 2 * page else {}
            return self.answer(200, chunk, more)
        if url.path == notes and self.command == "POST":
            note = {"id": 100 + len(server.notes), "body": json.loads(body)["body"]}
            server.notes.append(note)
            return self.answer(201, note)
        if url.path.startswith(notes + "/") and self.command == "PUT":
            note_id = int(url.path.rsplit("/", 1)[1])
            (note,) = [note for note in server.notes if note["id"] == note_id]
            note["body"] = json.loads(body)["body"]
            return self.answer(200, note)
        if url.path == f"{base}/merge_requests" and self.command == "GET":
            asked = {key: values[0] for key, values in parse_qs(url.query).items()}
            found = [
                request
                for request in server.merge_requests
                if all(request[key] == value for key, value in asked.items())
            ]
            return self.answer(200, found)
        if url.path == f"{base}/merge_requests" and self.command == "POST":
            created = json.loads(body)
            pair = (created["source_branch"], created["target_branch"])
            for earlier in server.merge_requests:
                if earlier["state"] == "opened" and (
                    (earlier["source_branch"], earlier["target_branch"]) == pair
                ):
                    message = [f"Another open merge request already exists: !{earlier['iid']}"]
                    return self.answer(409, {"message": message})
            iid = len(server.merge_requests) + 1
            created |= {"iid": iid, "state": "opened", "web_url": f"https://mr.example/{iid}"}
            server.merge_requests.append(created)
            return self.answer(201, created)
        if url.path.startswith(f"{base}/packages/generic/") and self.command == "PUT":
            server.packages[url.path.split("/generic/", 1)[1]] = body
            return self.answer(201, {"message": "201 Created"})
        if url.path == f"{base}/releases" and self.command == "POST":
            created = json.loads(body)
            server.releases[created["tag_name"]] = created
            return self.answer(201, created)
        if url.path.startswith(f"{base}/releases/") and self.command == "GET":
            tag = url.path.rsplit("/", 1)[1].replace("%40", "@")
            if tag in server.releases:
                return self.answer(200, server.releases[tag])
        return self.answer(404, {"message": "404 Not Found"})

    do_GET = do_POST = do_PUT = handle_any


@pytest.fixture
def gitlab(monkeypatch):
    """The stand-in server, and the CI variables that point the project's code at it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    server.requests, server.notes, server.packages, server.releases = [], [], {}, {}
    server.merge_requests = []
    # shutdown() waits up to one poll interval: 0.5 s by default, per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    api = f"http://127.0.0.1:{server.server_port}/api/v4"
    monkeypatch.setenv("CI_API_V4_URL", api)
    monkeypatch.setenv("CI_PROJECT_ID", PROJECT)
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    yield server
    server.shutdown()
    server.server_close()


def report(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_first_report_creates_one_note_with_the_watermark(gitlab, tmp_path):
    gitlab.notes += [{"id": 1, "body": "Looks good"}, {"id": 2, "body": "LGTM"}]
    gitlab.notes += [{"id": 3, "body": "One more"}]  # a second page to look through
    done = post(report(tmp_path, "## Model report\n"), GitLab.from_environment(), "7")
    assert done == "created"
    assert [note["body"] for note in gitlab.notes[3:]] == [f"## Model report\n\n{WATERMARK}\n"]
    assert [r["query"] for r in gitlab.requests if r["method"] == "GET"] == [
        "per_page=100&page=1&sort=asc",
        "per_page=100&page=2&sort=asc",
    ]


def test_later_reports_update_the_same_note_in_place(gitlab, tmp_path):
    api = GitLab.from_environment()
    gitlab.notes += [{"id": 1, "body": "A reviewer's note"}]
    post(report(tmp_path, "first"), api, "7")
    gitlab.notes += [{"id": 9, "body": "Another reviewer's note"}]
    assert post(report(tmp_path, "second"), api, "7") == "updated"
    assert [note["body"] for note in gitlab.notes] == [
        "A reviewer's note",
        f"second\n\n{WATERMARK}\n",
        "Another reviewer's note",
    ]
    assert [r["method"] for r in gitlab.requests if r["method"] != "GET"] == ["POST", "PUT"]


def test_the_token_goes_in_a_header_only_and_no_error_shows_it(gitlab, tmp_path, monkeypatch):
    post(report(tmp_path, "text"), GitLab.from_environment(), "7")
    assert {r["token"] for r in gitlab.requests} == {TOKEN}
    assert not any(TOKEN in r["path"] + r["query"] for r in gitlab.requests)
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-revoked")
    with pytest.raises(UserError) as refused:
        post(report(tmp_path, "text"), GitLab.from_environment(), "7")
    assert "401" in str(refused.value) and "glpat-" not in str(refused.value)


def test_missing_variables_and_report_are_named(gitlab, tmp_path, monkeypatch):
    with pytest.raises(UserError, match="does not exist"):
        post(tmp_path / "report.md", GitLab.from_environment(), "7")
    monkeypatch.delenv("GITLAB_TOKEN")
    monkeypatch.delenv("CI_PROJECT_ID")
    with pytest.raises(UserError, match=r"^CI_PROJECT_ID, GITLAB_TOKEN not set"):
        GitLab.from_environment()


def test_a_release_uploads_the_bundle_and_links_every_file(gitlab, tmp_path):
    bundle = tmp_path / "model-v1.1.0"
    bundle.mkdir()
    for name in ("SHA256SUMS", "model.skops", "model_card.md"):
        (bundle / name).write_bytes(f"contents of {name}".encode())
    assert not release_exists("gitlab", "model@v1.1.0")
    release("gitlab", "model@v1.1.0", bundle)
    assert release_exists("gitlab", "model@v1.1.0")
    assert gitlab.packages == {
        f"model/v1.1.0/{name}": f"contents of {name}".encode()
        for name in ("SHA256SUMS", "model.skops", "model_card.md")
    }
    created = gitlab.releases["model@v1.1.0"]
    assert created["name"] == "model@v1.1.0"
    assert created["description"] == "contents of model_card.md"
    links = {link["name"]: link["url"] for link in created["assets"]["links"]}
    api = f"http://127.0.0.1:{gitlab.server_port}/api/v4"
    assert links == {
        name: f"{api}/projects/{PROJECT}/packages/generic/model/v1.1.0/{name}"
        for name in ("SHA256SUMS", "model.skops", "model_card.md")
    }


def test_a_dry_run_says_what_the_release_would_do_and_calls_nothing(tmp_path, monkeypatch):
    for name in ("CI_API_V4_URL", "CI_PROJECT_ID", "GITLAB_TOKEN"):
        monkeypatch.delenv(name, raising=False)  # it needs none of them
    (tmp_path / "model.skops").write_bytes(b"model")
    (tmp_path / "SHA256SUMS").write_bytes(b"sums")
    assert release_plan("gitlab", "model@v2.0.0", tmp_path) == (
        "upload SHA256SUMS, model.skops to the package registry and create the GitLab release "
        "model@v2.0.0"
    )


def test_open_merge_requests_are_asked_for_by_branch_and_state(gitlab):
    opened = {"source_branch": "data-refresh", "target_branch": "main", "state": "opened"}
    gitlab.merge_requests += [
        {**opened, "iid": 1, "state": "closed"},
        {**opened, "iid": 2},
        {**opened, "iid": 3, "source_branch": "other"},
    ]
    found = GitLab.from_environment().open_merge_requests("data-refresh", "main")
    assert [request["iid"] for request in found] == [2]
    (asked,) = gitlab.requests
    assert asked["path"] == f"/api/v4/projects/{PROJECT}/merge_requests"
    assert asked["query"] == "state=opened&source_branch=data-refresh&target_branch=main"


def test_a_merge_request_is_created_with_its_branches_title_and_description(gitlab):
    api = GitLab.from_environment()
    created = api.create_merge_request("data-refresh", "main", "Data refresh", "## Report\n")
    assert created["iid"] == 1 and created["web_url"] == "https://mr.example/1"
    (posted,) = gitlab.requests
    assert json.loads(posted["body"]) == {
        "source_branch": "data-refresh",
        "target_branch": "main",
        "title": "Data refresh",
        "description": "## Report\n",
    }
    # GitLab refuses a second open merge request between the same branches: one sentence.
    with pytest.raises(UserError, match=r"^GitLab answered POST /merge_requests with 409: "):
        api.create_merge_request("data-refresh", "main", "Data refresh", "again")


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


# A pipeline whose metrics are in metrics/, the folder a refresh hands off with dvc.lock.
PIPELINE = "stages:\n  evaluate:\n    cmd: python e.py\n    metrics: [metrics/metrics.json]\n"


@pytest.fixture
def refreshed(gitlab, tmp_path, monkeypatch) -> Path:
    """A project whose main is on a bare origin, and the folder a refresh handed off (returned),
    with report.md beside it; the variables of a GitLab job that may push."""
    origin = tmp_path / "origin.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    project = tmp_path / "project"
    for path, text in {
        "dvc.yaml": PIPELINE,
        "data/rows.csv.dvc": "outs:\n- md5: 1111\n  path: rows.csv\n",
        "dvc.lock": "schema: '2.0'\n",
        "metrics/metrics.json": '{"auc": 0.9}\n',
        "metrics/plots/roc.csv": "fpr,tpr\n0,0\n",
    }.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text)
    monkeypatch.chdir(project)
    for variable, value in {"NAME": "CI", "EMAIL": "ci@example.com"}.items():
        monkeypatch.setenv(f"GIT_AUTHOR_{variable}", value)
        monkeypatch.setenv(f"GIT_COMMITTER_{variable}", value)
    git("init", "--quiet", "--initial-branch=main")
    git("add", "--all")
    git("commit", "--quiet", "-m", "start")
    git("remote", "add", "origin", str(origin))
    git("push", "--quiet", "origin", "main")
    results = tmp_path / "results"
    (results / "data").mkdir(parents=True)
    (results / "metrics").mkdir()
    (results / "data/rows.csv.dvc").write_text("outs:\n- md5: 2222\n  path: rows.csv\n")
    (results / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    (results / "metrics/metrics.json").write_text('{"auc": 0.8}\n')  # roc.csv is gone
    Path("report.md").write_text("## Model report\n\n**The data changed**\n")
    Path("refresh.md").write_text("data/rows.csv changed: the pipeline is reproduced on it\n")
    monkeypatch.setenv("CI_PUSH_TOKEN", "glpat-push-token")
    return results


def test_a_refresh_is_committed_to_data_refresh_and_opens_one_merge_request(refreshed, gitlab):
    report = Path("report.md")
    assert open_merge_request(refreshed, report, "main") == "opened"
    origin = Path("../origin.git")
    branch = git("rev-parse", "data-refresh", cwd=origin)
    assert git("rev-parse", f"{branch}^", cwd=origin) == git("rev-parse", "main", cwd=origin)
    assert git("log", "-1", "--format=%s", branch, cwd=origin) == (
        "Refresh the imported data and reproduce the pipeline"
    )
    changed = git("diff", "--name-status", "main", branch, cwd=origin).splitlines()
    assert changed == [
        "M\tdata/rows.csv.dvc",
        "M\tdvc.lock",
        "M\tmetrics/metrics.json",
        "D\tmetrics/plots/roc.csv",
    ]
    (created,) = gitlab.merge_requests
    assert created["source_branch"] == "data-refresh" and created["target_branch"] == "main"
    assert created["description"] == report.read_text()
    assert [r["method"] for r in gitlab.requests] == ["GET", "POST"]
    # The workspace and the branch checked out are as they were.
    assert git("rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git("status", "--porcelain") == "?? refresh.md\n?? report.md"
    assert Path("refresh.md").read_text().splitlines()[-1] == (
        "Opened the data-refresh merge request !1."
    )

    # The same results again: origin's data-refresh holds them; nothing is pushed or asked.
    assert open_merge_request(refreshed, report, "main") == "nothing to push"
    assert git("rev-parse", "data-refresh", cwd=origin) == branch
    assert len(gitlab.requests) == 2
    assert Path("refresh.md").read_text().splitlines()[-1] == (
        "The data-refresh merge request already holds this data: nothing to push."
    )

    # Newer results: the branch is replaced, and the open merge request is the one updated.
    (refreshed / "metrics/metrics.json").write_text('{"auc": 0.7}\n')
    assert open_merge_request(refreshed, report, "main") == "updated"
    moved = git("rev-parse", "data-refresh", cwd=origin)
    assert moved != branch
    assert git("rev-parse", f"{moved}^", cwd=origin) == git("rev-parse", "main", cwd=origin)
    assert len(gitlab.merge_requests) == 1
    assert [r["method"] for r in gitlab.requests[2:]] == ["GET"]


def test_a_refresh_without_results_commits_nothing(refreshed, gitlab, tmp_path):
    assert open_merge_request(tmp_path / "nothing", Path("report.md"), "main") == (
        "nothing to commit"
    )
    assert gitlab.requests == []
    assert git("ls-remote", "--heads", "origin", "data-refresh") == ""


def test_no_push_token_or_other_files_stop_it_before_anything_moves(refreshed, gitlab, monkeypatch):
    monkeypatch.delenv("CI_PUSH_TOKEN")
    with pytest.raises(UserError, match=r"^CI_PUSH_TOKEN not set: it is the project access "):
        open_merge_request(refreshed, Path("report.md"), "main")
    monkeypatch.setenv("CI_PUSH_TOKEN", "glpat-push-token")
    monkeypatch.delenv("GITLAB_TOKEN")
    with pytest.raises(UserError, match=r"^GITLAB_TOKEN not set"):
        open_merge_request(refreshed, Path("report.md"), "main")
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    (refreshed / "src").mkdir()
    (refreshed / "src/stage.py").write_text("print('not a result')\n")
    with pytest.raises(UserError, match=r"files other than .dvc files, dvc.lock and metrics/ "):
        open_merge_request(refreshed, Path("report.md"), "main")
    assert gitlab.requests == []
    assert git("ls-remote", "--heads", "origin", "data-refresh") == ""
    assert git("worktree", "list").count("\n") == 0  # no worktree left behind
