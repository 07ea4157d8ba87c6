"""A worker host's Prometheus metrics, served at http://HOST:PORT/metrics with `--metrics-port PORT`
(PINPOINT_METRICS_PORT; 0, the default: not served).

A host is two processes: the daemon (bids, the keeper, disputes) and the Celery worker it starts (training,
uploads, audits). Both count into prometheus_client's multiprocess files under `<home>/metrics/<host>/`,
and the daemon serves their sum; that is why the metrics are made on first use (`metrics()`), after
`serve` has chosen multiprocess mode for the daemon and, through the environment, for the Celery worker.
"""

from __future__ import annotations

import os
import shutil
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess

from pinpoint import chain

# Training steps take milliseconds (a small MLP on a CPU) to seconds (a large model).
STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
UPLOAD_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


@cache
def metrics() -> SimpleNamespace:
    return SimpleNamespace(
        step_seconds=Histogram("pinpoint_worker_training_step_seconds", "Time of one training step of a job this "
                               "host solves.", buckets=STEP_BUCKETS),
        upload_seconds=Histogram("pinpoint_worker_checkpoint_upload_seconds", "Time to publish one checkpoint (upload "
                                 "it, or declare it served from this host).", buckets=UPLOAD_BUCKETS),
        checkpoints_committed=Counter("pinpoint_worker_checkpoints_committed_total",
                                      "Checkpoint roots this host committed on chain (postProgress, and the last one by submitResult)."),
        jobs_executed=Counter("pinpoint_worker_jobs_executed_total", "Jobs this host ran to a submitted final root.",
                              ["kind"]),
        bids=Counter("pinpoint_worker_bids_total", "Bids this host placed on chain."),
        audits_committed=Counter("pinpoint_worker_audits_committed_total",
                                 "Audit commitments this host made with its bond."),
        verdicts=Counter("pinpoint_worker_verdicts_total", "Results this host checked, by verdict.", ["verdict"]),
        chain_errors=Counter("pinpoint_worker_chain_errors_total", "Chain requests that failed: `unreachable` (no "
                             "answer), `reverted` (a transaction the contracts refused), `failed` (any other).",
                             ["kind"]),
    )


chain.error_listeners.append(lambda kind: metrics().chain_errors.labels(kind=kind).inc())


def serve(port: int, directory: Path) -> None:
    """Serve the metrics of this process and of the processes it starts from now on on `port`; their counts
    live in `directory`, emptied first (a restarted host starts from zero, as Prometheus expects)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)  # the Celery worker inherits it
    if metrics.cache_info().currsize:
        raise RuntimeError("worker metrics were made before multiprocess mode was chosen")
    # prometheus_client picks its value store when imported: it was imported before the variable was set.
    prometheus_client.values.ValueClass = prometheus_client.values.get_value_class()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    prometheus_client.start_http_server(port, registry=registry)
