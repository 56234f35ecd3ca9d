"""``python -m lineage_dagster.cli``: the same as the ``lineage-dagster`` console script."""

from lineage_dagster.cli import main

if __name__ == "__main__":
    main()
