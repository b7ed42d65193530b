"""GitLab's REST API, for the merge request's report note, the release and the data refresh's
merge request: the one module that talks to GitLab.

Why not CML (``cml comment update`` does the same on GitLab): CML has had no release since
2024-10 and needs Node.js and an npm package on every runner, while the three calls it would make
here (find the note, update it or create it) are plain HTTPS requests. Python's own ``urllib``
makes them with no new dependency, and a test can point ``CI_API_V4_URL`` at a stand-in server.

The token goes in a header only: it is never printed, logged or put in a URL.
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

# GitLab's CI sets the first two in every job; the token is a masked CI/CD variable of yours.
API_URL, PROJECT_ID, TOKEN = "CI_API_V4_URL", "CI_PROJECT_ID", "GITLAB_TOKEN"
# Notes fetched per request while looking for the report note.
PAGE_SIZE = 100


@dataclass
class GitLab:
    """A project's API: ``api_url`` (``https://gitlab.com/api/v4``), its id, and a token."""

    api_url: str
    project: str
    token: str

    @classmethod
    def from_environment(cls) -> "GitLab":
        """The project of the running CI job (or of the variables you set to run it locally)."""
        values = {name: os.environ.get(name, "") for name in (API_URL, PROJECT_ID, TOKEN)}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise UserError(
                f"{', '.join(missing)} not set: GitLab's CI sets {API_URL} and {PROJECT_ID}; "
                f"{TOKEN} is a project access token with the api scope (README.md says how)"
            )
        return cls(values[API_URL].rstrip("/"), values[PROJECT_ID], values[TOKEN])

    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        data: bytes | None = None,
        query: dict | None = None,
        missing_ok: bool = False,
    ) -> tuple[int, object, dict]:
        """Call ``path`` (under the project); return the status, the parsed JSON answer and the
        headers. An error raises UserError, except a 404 with ``missing_ok``."""
        url = f"{self.api_url}/projects/{urllib.parse.quote(self.project, safe='')}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"PRIVATE-TOKEN": self.token}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/octet-stream"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text, answer_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            if error.code == 404 and missing_ok:
                return 404, None, dict(error.headers)
            detail = error.read().decode(errors="replace")[:300]
            message = f"GitLab answered {method} {path} with {error.code}: {detail}"
            raise UserError(message) from None
        except OSError as error:
            raise UserError(f"GitLab's API at {self.api_url} did not answer: {error}") from None
        return status, json.loads(text) if text.strip() else None, dict(answer_headers)

    def notes(self, merge_request: str) -> list[dict]:
        """Every note of the merge request, page by page."""
        found, page = [], "1"
        while page:
            _, answer, headers = self.request(
                "GET",
                f"/merge_requests/{merge_request}/notes",
                query={"per_page": PAGE_SIZE, "page": page, "sort": "asc"},
            )
            found += answer or []
            page = headers.get("X-Next-Page", "")
        return found

    def upsert_note(self, merge_request: str, body: str, watermark: str) -> str:
        """Update the merge request's note that carries ``watermark``, else create it; return
        ``updated`` or ``created``. ``watermark`` (an HTML comment) is added to ``body``."""
        text = f"{body.rstrip()}\n\n{watermark}\n"
        mine = [note for note in self.notes(merge_request) if watermark in note.get("body", "")]
        path = f"/merge_requests/{merge_request}/notes"
        if mine:
            self.request("PUT", f"{path}/{mine[0]['id']}", body={"body": text})
            return "updated"
        self.request("POST", path, body={"body": text})
        return "created"

    def release_exists(self, tag: str) -> bool:
        tag_path = urllib.parse.quote(tag, safe="")
        status, _, _ = self.request("GET", f"/releases/{tag_path}", missing_ok=True)
        return status != 404

    def upload(self, package: str, version: str, file: Path) -> str:
        """Put ``file`` in the project's generic package registry; return its download URL."""
        path = f"/packages/generic/{package}/{version}/{file.name}"
        self.request("PUT", path, data=file.read_bytes())
        return f"{self.api_url}/projects/{self.project}{path}"

    def download(self, path: str) -> bytes:
        """The bytes of a file under the project (``/packages/generic/...``)."""
        url = f"{self.api_url}/projects/{urllib.parse.quote(self.project, safe='')}{path}"
        request = urllib.request.Request(url, headers={"PRIVATE-TOKEN": self.token})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            raise UserError(f"GitLab answered GET {path} with {error.code}") from None
        except OSError as error:
            raise UserError(f"GitLab's API at {self.api_url} did not answer: {error}") from None

    def open_merge_requests(self, source: str, target: str) -> list[dict]:
        """The open merge requests from branch ``source`` into ``target`` (GitLab allows one)."""
        _, answer, _ = self.request(
            "GET",
            "/merge_requests",
            query={"state": "opened", "source_branch": source, "target_branch": target},
        )
        return list(answer or [])

    def create_merge_request(self, source: str, target: str, title: str, description: str) -> dict:
        """Open a merge request from branch ``source`` into ``target``; return GitLab's answer
        (its ``iid`` and ``web_url``)."""
        _, answer, _ = self.request(
            "POST",
            "/merge_requests",
            body={
                "source_branch": source,
                "target_branch": target,
                "title": title,
                "description": description,
            },
        )
        return answer if isinstance(answer, dict) else {}

    def create_release(self, tag: str, description: str, links: dict[str, str]) -> None:
        """The release of the pushed ``tag``, with ``links`` (name: URL) as its assets."""
        assets = [{"name": name, "url": url, "link_type": "package"} for name, url in links.items()]
        self.request(
            "POST",
            "/releases",
            body={
                "tag_name": tag,
                "name": tag,
                "description": description,
                "assets": {"links": assets},
            },
        )
