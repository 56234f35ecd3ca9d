import dagster as dg
from pydantic import Field

from lineage_dagster.defs.settings import FLAG_DEFAULTS


class FeatureFlagsResource(dg.ConfigurableResource):
    """The optimisations of an ingest run; each can be rolled back from the launchpad.

    All off is the plain baseline path and produces the same graph. The fifth flag,
    ``parallel``, is the executor choice of the run config (``multiprocess`` vs ``in_process``).

    The defaults come from the ``FEATURE_*`` variables when the code location loads. A run's
    config replaces the resource's whole config, so set every flag in it, e.g.
    ``resources: {feature_flags: {config: {parse_cache: false, batching: true,
    neo4j_batch: true, metrics: true}}}``.
    """

    parse_cache: bool = Field(
        default=FLAG_DEFAULTS["parse_cache"],
        description="Reuse the lineage cached for unchanged file content (FEATURE_PARSE_CACHE).",
    )
    batching: bool = Field(
        default=FLAG_DEFAULTS["batching"],
        description="Parse files in a few size-balanced batches instead of one step per file "
        "(FEATURE_BATCHING).",
    )
    neo4j_batch: bool = Field(
        default=FLAG_DEFAULTS["neo4j_batch"],
        description="Write UNWIND batches instead of one query per node or relationship "
        "(FEATURE_NEO4J_BATCH).",
    )
    metrics: bool = Field(
        default=FLAG_DEFAULTS["metrics"],
        description="Push run metrics to the Prometheus Pushgateway (FEATURE_METRICS).",
    )
