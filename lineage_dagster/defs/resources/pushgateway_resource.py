import os
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster_prometheus import PrometheusResource
from pydantic import Field, PrivateAttr

from lineage_dagster.monitoring.run_metrics import (
    StepMetrics,
    group_samples,
    grouping_key,
    step_busy_metrics,
    step_pool,
)
from lineage_dagster.settings.environment import ENV_PUSHGATEWAY_URL


class PushgatewayResource(dg.ConfigurableResource):
    """Pushes each step's run metrics to a Prometheus Pushgateway, through dagster-prometheus.

    The gateway is optional: when none is configured, or it cannot be reached, the step logs one
    warning and carries on; metrics never fail or hold up a run. Ops push only when the
    ``metrics`` feature flag is on. Each step pushes its own group (job, partition, step kind,
    batch slot) with cumulative counters, read back from the gateway before the push.

    Example, in an op: ``prometheus.push(context, step_metrics, step="parse", index=0)`` with
    ``resources={"prometheus": PushgatewayResource()}``; the URL is read from
    ``LINEAGE_PUSHGATEWAY_URL`` when the step runs.
    """

    gateway: str | None = Field(
        default=None,
        description="Pushgateway URL, e.g. http://127.0.0.1:9091; overrides gateway_env_var.",
    )
    gateway_env_var: str = Field(
        default=ENV_PUSHGATEWAY_URL,
        description="Environment variable holding the Pushgateway URL, read when a step runs; "
        "unset or empty means metrics are not pushed.",
    )
    timeout_seconds: int = Field(
        default=3, description="Timeout of each request to the Pushgateway (whole seconds)."
    )

    _prometheus: PrometheusResource | None = PrivateAttr(default=None)
    _disabled: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Read at run time in the step process, never at import, so an unset variable is fine.
        url = self.gateway or os.environ.get(self.gateway_env_var, "").strip()
        if url:
            with warnings.catch_warnings():
                # Pinned in lock-step with dagster, so its beta status is no news in every step.
                warnings.simplefilter("ignore", dg.BetaWarning)
                self._prometheus = PrometheusResource(gateway=url, timeout=self.timeout_seconds)
            # PrometheusResource keeps a fresh registry per step process, made at its setup.
            self._prometheus.setup_for_execution(context)
        self._disabled = False

    def push(
        self, context: dg.OpExecutionContext, metrics: StepMetrics, *, step: str, index: int = 0
    ) -> bool:
        """Add ``metrics`` to this step's group on the Pushgateway.

        Args:
            context: The op's context; gives the job name, partition and logger.
            metrics: What this step measured.
            step: The step kind (``parse``, ``load``), part of the grouping key.
            index: The batch index; steps of one run push to distinct slots.

        Returns:
            Whether the metrics reached the gateway.
        """
        if self._disabled:
            return False
        if self._prometheus is None:
            self._disabled = True
            context.log.warning(
                f"Metrics are on but no Pushgateway is configured (set {self.gateway_env_var} "
                "or turn the metrics flag off): this step's metrics are not pushed."
            )
            return False
        partition = context.partition_key if context.has_partition_key else ""
        group = grouping_key(partition, step, index)
        collector = None
        try:
            exposition = _read_metrics(self._prometheus.gateway, self.timeout_seconds)
            previous = group_samples(exposition, {"job": context.job_name, **group})
            collector = metrics.merged_with(previous).collector()
            self._prometheus.registry.register(collector)
            self._prometheus.push_to_gateway(job=context.job_name, grouping_key=group)
        except Exception as exc:
            # Whatever breaks (refused, timeout, rejected push), the run itself must go on.
            self._disabled = True
            context.log.warning(
                f"Metrics not pushed: the Pushgateway at {self._prometheus.gateway} failed "
                f"({type(exc).__name__}: {exc}); the run carries on without metrics."
            )
            return False
        finally:
            if collector is not None:
                self._prometheus.registry.unregister(collector)
        return True

    @contextmanager
    def step_running(
        self, context: dg.OpExecutionContext, *, step: str, index: int = 0
    ) -> Iterator[StepMetrics]:
        """Mark this step process busy in the worker-pool gauges while the block runs.

        Pushes ``lineage_step_processes_busy`` 1 (and the run's pool size) on entry; on exit,
        even after an error, pushes what the block added to the yielded metrics with busy 0.
        """
        pool = step_pool(context.run.run_config, os.cpu_count() or 1)
        self.push(context, step_busy_metrics(pool, busy=True), step=step, index=index)
        measured = StepMetrics()
        try:
            yield measured
        finally:
            measured.include(step_busy_metrics(pool, busy=False))
            self.push(context, measured, step=step, index=index)


def _read_metrics(gateway: str, timeout: float) -> str:
    """The gateway's ``/metrics`` text (a gateway without a scheme is plain http, as in
    prometheus_client)."""
    url = gateway if gateway.startswith(("http://", "https://")) else f"http://{gateway}"
    with urllib.request.urlopen(f"{url.rstrip('/')}/metrics", timeout=timeout) as response:
        return response.read().decode()
