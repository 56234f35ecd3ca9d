"""The ``lineage-dagster`` command line."""

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Turn folders of SQL into a lineage graph in Neo4j."""
