"""The Dask engine (``compute.engine: dask`` in params.yaml): prepare, train and evaluate on a
Dask cluster, with the same params, outputs and errors as on this machine.

The cluster is the one whose scheduler ``DASK_SCHEDULER_ADDRESS`` names (an address is where the
work runs, not what it computes, so it lives in the environment and never invalidates DVC's
cache); without it, a cluster of one single-threaded worker process per core is started on this
machine for the stage and stopped after it. Each stage's cluster code is ``cluster/<stage>.py``.
"""

import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points

from ..errors import UserError
from ..project import GROUP

ADDRESS = "DASK_SCHEDULER_ADDRESS"
# How long a stage waits for the scheduler to answer before saying it cannot be reached.
CONNECT_SECONDS = 10


def require() -> None:
    """Stop with one sentence if the Dask engine's libraries are not installed here."""
    for module in ("dask.dataframe", "distributed", "lightgbm"):
        try:
            importlib.import_module(module)
        except ImportError:
            raise UserError(
                f"compute.engine is dask, but {module.split('.')[0]} is not installed here: run "
                "`make setup-dask` (or install dvc-ml-kit[dask]), or set compute.engine to local"
            ) from None


@contextlib.contextmanager
def connect() -> Iterator:
    """A Dask client for the cluster at ``DASK_SCHEDULER_ADDRESS``, else for a cluster started
    on this machine; closed (and a started cluster stopped) on leaving."""
    import cloudpickle
    from distributed import Client, LocalCluster

    # This package and the project's own code (its features, its models) travel with the tasks:
    # the workers need the same libraries as this project, not the project itself.
    cloudpickle.register_pickle_by_value(sys.modules[__package__.split(".")[0]])
    for point in entry_points(group=GROUP):
        cloudpickle.register_pickle_by_value(importlib.import_module(point.value))
    address = os.environ.get(ADDRESS, "").strip()
    if not address:
        with (
            LocalCluster(
                threads_per_worker=1, dashboard_address=":0", silence_logs=logging.ERROR
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(address, timeout=f"{CONNECT_SECONDS}s")
    except (OSError, TimeoutError, ValueError) as error:
        raise UserError(
            f"no Dask scheduler answered at {address} ({ADDRESS}) within {CONNECT_SECONDS} s "
            f"({error}): start the cluster, fix the address, or unset {ADDRESS} to run on a "
            "cluster started on this machine"
        ) from None
    with client:
        yield client


def _addresses(dask_scheduler) -> list[str]:
    return list(dask_scheduler.workers)


def workers(client) -> list[str]:
    """The cluster's worker addresses, sorted: the same order whatever order they joined in.
    Asked of the scheduler itself: the client's cached scheduler_info() is refreshed in the
    background without the workers, which would make them look gone."""
    return sorted(client.run_on_scheduler(_addresses))
