import dagster as dg
from pydantic import Field

from lineage_dagster.flags import flag_defaults

# Read once when the code location loads: the FEATURE_* variables become the flags' defaults,
# shown in the launchpad and kept for every flag a run's config does not set.
_DEFAULTS = {name: value for name, (value, _source) in flag_defaults().items()}


class FeatureFlags(dg.ConfigurableResource):
    """The optimisations of an ingest run; each can be rolled back from the launchpad.

    All off is the plain baseline path and produces the same graph. The fifth flag,
    ``parallel``, is the executor choice of the run config (``multiprocess`` vs ``in_process``).

    Example:
        .. code-block:: yaml

            resources:
              feature_flags:
                config: {parse_cache: false, batching: true, neo4j_batch: true, metrics: true}
    """

    parse_cache: bool = Field(
        default=_DEFAULTS["parse_cache"],
        description="Reuse the lineage cached for unchanged file content (FEATURE_PARSE_CACHE).",
    )
    batching: bool = Field(
        default=_DEFAULTS["batching"],
        description="Parse files in a few size-balanced batches instead of one step per file "
        "(FEATURE_BATCHING).",
    )
    neo4j_batch: bool = Field(
        default=_DEFAULTS["neo4j_batch"],
        description="Write UNWIND batches instead of one query per node or relationship "
        "(FEATURE_NEO4J_BATCH).",
    )
    metrics: bool = Field(
        default=_DEFAULTS["metrics"],
        description="Push run metrics to the Prometheus Pushgateway (FEATURE_METRICS).",
    )


class PlanConfig(dg.Config):
    """What the planning step of an ingest run considers."""

    full_refresh: bool = Field(
        default=False,
        description="Re-load every file of the partition, not only new, changed and deleted ones "
        "(a run tagged lineage/full_refresh=true does the same: UI backfills can set tags).",
    )
    batches_per_worker: int = Field(
        default=3, description="Parse batches per worker process (2-4 balances load and overhead)."
    )
    workers: int | None = Field(
        default=None, description="Worker processes to plan for; defaults to the CPU count."
    )


class LoadConfig(dg.Config):
    """How lineage is written to Neo4j."""

    batch_size: int = Field(default=5_000, description="Rows per UNWIND query.")
    files_per_transaction: int = Field(
        default=200,
        description="Files replaced per write transaction at most (a file is always replaced "
        "whole, in one transaction).",
    )
    rows_per_transaction: int = Field(
        default=100_000,
        description="Nodes and relationships written per transaction at most, so a transaction "
        "stays within Neo4j's transaction memory; a larger file gets a transaction of its own.",
    )
