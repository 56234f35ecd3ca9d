"""The ``lineage-dagster`` command line."""

import click

from lineage_dagster.cli.cache import cache_command
from lineage_dagster.cli.dev import dev_command
from lineage_dagster.cli.flags import flags_command
from lineage_dagster.cli.ingest import ingest_command
from lineage_dagster.cli.lineage import lineage_command
from lineage_dagster.cli.neo4j import neo4j_command
from lineage_dagster.cli.parse import parse_command
from lineage_dagster.cli.status import status_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Turn folders of SQL into a lineage graph in Neo4j."""


main.add_command(dev_command)
main.add_command(neo4j_command)
main.add_command(flags_command)
main.add_command(ingest_command)
main.add_command(cache_command)
main.add_command(lineage_command)
main.add_command(parse_command)
main.add_command(status_command)
