"""Real Celery workers for the ingest job, started the way docs/operations/SCALING.md says.

Each worker is its own process group (``dagster-celery worker start`` and the ``celery`` worker it
runs), with its own node name, as on a machine of its own; all of them share this machine's
Redis, Dagster instance and step storage folder.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import yaml
from celery import Celery

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKER_YAML = REPO_ROOT / "docs" / "operations" / "celery" / "celery-worker.yaml"
WORKER_START_TIMEOUT_SECONDS = 90.0
CELERY_WORKER_KEY = "Celery worker"
"""The metadata key of dagster-celery's "Executing steps ... in celery worker" engine event."""


@dataclass
class CeleryWorker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole worker (CLI, Celery main process, pool children), as a lost machine."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Celery's warm shutdown), then SIGKILL whatever is left of its group."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        # The group outlives its leader when a pool child lingers.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def worker_yaml(folder: Path, *, visibility_timeout: int | None = None) -> Path:
    """The shipped worker config, with a shorter broker visibility timeout when given (so a
    dead worker's step is delivered again within a test's patience)."""
    config = yaml.safe_load(WORKER_YAML.read_text())
    if visibility_timeout is not None:
        options = config["execution"]["config"]["config_source"]["broker_transport_options"]
        options["visibility_timeout"] = visibility_timeout
        options["unacked_restore_interval"] = 1
    path = folder / "celery-worker.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def celery_workers(
    names: list[str],
    *,
    config_yaml: Path,
    env: Mapping[str, str],
    log_dir: Path,
    concurrency: int = 1,
) -> Iterator[dict[str, CeleryWorker]]:
    """Start one worker per name (``dagster-celery worker start``), wait until each answers
    a ping through the broker, and stop them all on exit."""
    bin_dir = Path(sys.executable).parent
    env = {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}
    workers: dict[str, CeleryWorker] = {}
    try:
        for name in names:
            log = log_dir / f"{name}.log"
            command = [
                str(bin_dir / "dagster-celery"),
                *worker_arguments(name, config_yaml, concurrency),
            ]
            with log.open("wb") as output:
                process = subprocess.Popen(
                    command,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=dict(env),
                    start_new_session=True,
                )
            workers[name] = CeleryWorker(name, process, log)
        _wait_until_answering(workers, env["LINEAGE_CELERY_BROKER_URL"])
        yield workers
    finally:
        for worker in workers.values():
            worker.stop()


def worker_arguments(name: str, config_yaml: Path | str, concurrency: int | str) -> list[str]:
    """The arguments of ``dagster-celery`` that start a worker (as docs/operations/SCALING.md
    shows them): the shipped config, the code imported before the pool forks."""
    return [
        "worker",
        "start",
        "-A",
        "dagster_celery.app",
        "-y",
        str(config_yaml),
        "-n",
        name,
        "-i",
        "lineage_dagster.definitions",
        "--",
        f"--concurrency={concurrency}",
    ]


def answering_workers(broker_url: str) -> set[str]:
    """The node names (``name@host``) of the workers that answer a ping through the broker."""
    app = Celery(broker=broker_url)
    try:
        replies = app.control.ping(timeout=1.0)
    finally:
        app.close()
    return {node for reply in replies for node in reply}


def _wait_until_answering(workers: dict[str, CeleryWorker], broker_url: str) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for worker in workers.values():
            if not worker.alive:
                raise AssertionError(
                    f"Celery worker {worker.name} exited with {worker.process.returncode}:\n"
                    + worker.log.read_text(errors="replace")[-3000:]
                )
        nodes = {node.split("@")[0] for node in answering_workers(broker_url)}
        if nodes >= set(workers):
            return
    logs = "\n".join(w.log.read_text(errors="replace")[-1500:] for w in workers.values())
    raise AssertionError(f"Celery workers did not answer within the timeout:\n{logs}")


def step_workers(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step key, worker node name) of every step a Celery worker started executing in the run,
    in the order of the run's event log (a step delivered twice shows twice)."""
    executed = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        metadata = event.engine_event_data.metadata if event else {}
        if event is not None and CELERY_WORKER_KEY in metadata:
            executed.append((str(event.step_key), str(metadata[CELERY_WORKER_KEY].value)))
    return executed
