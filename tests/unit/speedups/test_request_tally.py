"""The request tally leaves in prometheus-client's values what the library's own calls per request leave:
the same series, the same counts in every bucket, sums equal to float rounding, and the same in-flight
gauge, with flushes at arbitrary points; in one process and in multiprocess mode (values in files).

Each path gets its own metrics with the service's names, buckets and labels (`graphql_api.core.metrics`),
in a registry of its own, or in multiprocess mode in a process and directory of its own.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

from graphql_api._speedups.request_tally import RequestTally
from graphql_api.core import metrics
from graphql_api.server.request_metrics import Recorder, RequestMetrics

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

FACES = ("rest", "graphql", "service")
OPERATIONS = ("/api/v1/room/token", "mutation createToken", "unmatched")
STATUSES = (200, 400, 404, 499, 503)
BOUNDS = metrics.REQUEST_DURATION._upper_bounds
ROOT = Path(__file__).resolve().parents[3]


def instruments(registry: CollectorRegistry | None) -> tuple[Counter, Histogram, Gauge]:
    return (
        Counter("gxrtc_requests", "r", ["face", "operation", "status"], registry=registry),
        Histogram("gxrtc_request_duration_seconds", "d", ["face", "operation"], buckets=BOUNDS, registry=registry),
        Gauge("gxrtc_requests_in_flight", "f", multiprocess_mode="livesum", registry=registry),
    )


def durations(rng: random.Random) -> float:
    """Mostly a millisecond or two, some exactly on a bound (where `<=` versus `<` would differ), a few huge."""
    pick = rng.random()
    if pick < 0.2:
        return float(rng.choice(BOUNDS[:-1]))
    if pick < 0.25:
        return rng.uniform(10.0, 100.0)
    return rng.expovariate(1 / 0.002)


def drive(recorder: Recorder, seed: int, steps: int) -> None:
    """The same random run of starts, ends and flushes for whichever recorder."""
    rng = random.Random(seed)
    open_requests = 0
    for _ in range(steps):
        pick = rng.random()
        if pick < 0.45 or open_requests == 0:
            recorder.started()
            open_requests += 1
        elif pick < 0.95:
            recorder.finished(rng.choice(FACES), rng.choice(OPERATIONS), rng.choice(STATUSES), durations(rng))
            open_requests -= 1
        else:
            recorder.flush()
    recorder.flush()


def samples(registry: CollectorRegistry) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name.startswith("gxrtc_")
    }


def assert_equal(tally: Samples, direct: Samples) -> None:
    assert tally.keys() == direct.keys()
    for key, value in direct.items():
        if key[0].endswith("_sum"):
            assert math.isclose(tally[key], value, rel_tol=1e-9), key
        else:
            assert tally[key] == value, key


def test_the_tally_leaves_what_the_library_leaves() -> None:
    for seed in range(5):
        direct, tally = CollectorRegistry(), CollectorRegistry()
        drive(RequestMetrics(*instruments(direct)), seed, 3000)
        drive(RequestTally(*instruments(tally)), seed, 3000)
        assert_equal(samples(tally), samples(direct))


def test_nothing_shows_before_a_flush_and_everything_after() -> None:
    registry = CollectorRegistry()
    tally = RequestTally(*instruments(registry))
    tally.started()
    tally.started()
    tally.finished("rest", "/api/v1/room/token", 200, 0.001)
    assert (
        registry.get_sample_value(
            "gxrtc_requests_total", {"face": "rest", "operation": "/api/v1/room/token", "status": "200"}
        )
        is None
    )
    tally.flush()
    labels = {"face": "rest", "operation": "/api/v1/room/token"}
    assert registry.get_sample_value("gxrtc_requests_total", {**labels, "status": "200"}) == 1
    assert registry.get_sample_value("gxrtc_request_duration_seconds_bucket", {**labels, "le": "0.001"}) == 1
    assert registry.get_sample_value("gxrtc_request_duration_seconds_bucket", {**labels, "le": "0.0025"}) == 1
    assert registry.get_sample_value("gxrtc_requests_in_flight", {}) == 1
    tally.flush()  # a second flush adds nothing twice
    assert registry.get_sample_value("gxrtc_requests_total", {**labels, "status": "200"}) == 1


# A process of its own for each path: multiprocess mode keeps values per process in the directory named
# by PROMETHEUS_MULTIPROC_DIR, which prometheus-client reads when it is imported.
_CHILD = """
import sys
from tests.unit.speedups.test_request_tally import drive, instruments
from graphql_api._speedups.request_tally import RequestTally
from graphql_api.server.request_metrics import RequestMetrics
kind, seed = sys.argv[1], int(sys.argv[2])
recorder = (RequestTally if kind == "tally" else RequestMetrics)(*instruments(None))
drive(recorder, seed, 3000)
"""


def multiprocess_samples(tmp_path: Path, kind: str, seed: int) -> Samples:
    directory = tmp_path / kind
    directory.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", _CHILD, kind, str(seed)], check=True, env=env, timeout=60)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return samples(registry)


def test_the_tally_leaves_what_the_library_leaves_in_multiprocess_mode(tmp_path: Path) -> None:
    assert_equal(multiprocess_samples(tmp_path, "tally", 7), multiprocess_samples(tmp_path, "direct", 7))
