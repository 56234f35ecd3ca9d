"""The ingest job end to end on a real Dagster instance (multiprocess executor, forkserver) and a
real Neo4j: the exact graph, replacement of changed and deleted files, idempotent re-runs, broken
files failing alone (the run tagged, the lineage_graph asset check failing until they are fixed,
each ingested folder a filled partition of sql_files), and every feature-flag combination giving
the identical graph."""

from pathlib import Path

import dagster as dg
import pytest

from lineage_dagster.defs.assets import EVERY_FILE_PARSED, every_file_parsed, lineage_graph
from lineage_dagster.defs.assets import sql_files as sql_files_asset
from lineage_dagster.defs.ops.load import FILES_FAILED_TAG
from lineage_dagster.defs.resources import Neo4jResource
from lineage_dagster.settings.flags import FLAG_ENV_VARS
from lineage_dagster.sources.parse_cache import ParseCache, default_cache_path
from lineage_dagster_tests.graph_helpers import (
    count,
    derives_from,
    feeds,
    graph_snapshot,
    sql_files,
    table_names,
)
from lineage_dagster_tests.ingest_helpers import ingest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXPOSURE = """
INSERT INTO risk.exposure (book, value)
SELECT p.book, p.qty * m.px
FROM trading.positions AS p JOIN market.prices AS m ON m.id = p.id;
"""
SUMMARY = """
CREATE TABLE risk.summary AS
SELECT book, SUM(value) AS total FROM risk.exposure GROUP BY book;
"""
GL = "INSERT INTO finance.gl (account, amount) SELECT account, amount FROM finance.journal;\n"


@pytest.fixture
def corpus(sql_root: Path) -> Path:
    (sql_root / "risk").mkdir()
    (sql_root / "finance").mkdir()
    (sql_root / "risk" / "exposure.sql").write_text(EXPOSURE)
    (sql_root / "risk" / "summary.sql").write_text(SUMMARY)
    (sql_root / "finance" / "gl.sql").write_text(GL)
    return sql_root


def test_ingest_builds_the_exact_graph(ingest_instance, corpus, empty_graph):
    risk = ingest(ingest_instance, corpus, "risk")
    finance = ingest(ingest_instance, corpus, "finance")
    assert risk.success and finance.success
    assert feeds(empty_graph) == {
        ("trading.positions", "risk.exposure"),
        ("market.prices", "risk.exposure"),
        ("risk.exposure", "risk.summary"),
        ("finance.journal", "finance.gl"),
    }
    assert {edge for edge in derives_from(empty_graph) if edge[0].startswith("finance.")} == {
        ("finance.gl.account", "finance.journal.account", "direct"),
        ("finance.gl.amount", "finance.journal.amount", "direct"),
    }
    assert ("risk.summary.total", "risk.exposure.value", "aggregation") in derives_from(empty_graph)
    assert set(sql_files(empty_graph)) == {
        "risk/exposure.sql",
        "risk/summary.sql",
        "finance/gl.sql",
    }
    assert risk.load_metadata["files_loaded"] == 2
    assert risk.load_metadata["cache_misses"] == 2
    # Each run records a materialization of its folder's partition of the lineage_graph asset.
    for partition, files in (("risk", 2), ("finance", 1)):
        records = ingest_instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("lineage_graph"), asset_partitions=[partition]
            ),
            limit=1,
        ).records
        assert len(records) == 1
        assert records[0].asset_materialization.metadata["files_loaded"].value == files


def test_changed_and_deleted_files_replace_their_lineage(ingest_instance, corpus, empty_graph):
    assert ingest(ingest_instance, corpus, "risk").success
    (corpus / "risk" / "exposure.sql").unlink()
    (corpus / "risk" / "summary.sql").write_text(
        "CREATE TABLE risk.summary AS SELECT book, COUNT(*) AS n FROM trading.trades GROUP BY book"
    )
    run = ingest(ingest_instance, corpus, "risk")
    assert run.success
    assert (run.load_metadata["files_loaded"], run.load_metadata["files_deleted"]) == (1, 1)
    assert feeds(empty_graph) == {("trading.trades", "risk.summary")}
    assert table_names(empty_graph) == {"trading.trades", "risk.summary"}
    assert set(sql_files(empty_graph)) == {"risk/summary.sql"}


def test_rerunning_unchanged_files_changes_nothing(ingest_instance, corpus, empty_graph):
    assert ingest(ingest_instance, corpus, "risk").success
    before = graph_snapshot(empty_graph)
    again = ingest(ingest_instance, corpus, "risk")
    assert again.success
    assert again.load_metadata["files_loaded"] == 0
    assert graph_snapshot(empty_graph) == before


def test_a_full_refresh_tag_reloads_unchanged_files(ingest_instance, corpus, empty_graph):
    assert ingest(ingest_instance, corpus, "risk").success
    before = graph_snapshot(empty_graph)
    tagged = ingest(ingest_instance, corpus, "risk", tags={"lineage/full_refresh": "true"})
    assert tagged.load_metadata["files_loaded"] == 2
    assert graph_snapshot(empty_graph) == before


def test_a_broken_file_fails_alone_and_loads_once_fixed(ingest_instance, corpus, empty_graph):
    (corpus / "finance" / "broken.sql").write_text(
        "INSERT INTO finance.ok SELECT a FROM finance.src;\nSELECT (1 + FROM finance.nowhere;\n"
    )
    (corpus / "finance" / "binary.sql").write_bytes(b"SELECT \xff\xfe\x00 FROM x")
    run = ingest(ingest_instance, corpus, "finance")
    assert run.success
    failed = {item["path"]: item for item in run.load_metadata["failed_files"]}
    assert set(failed) == {"finance/broken.sql", "finance/binary.sql"}
    assert failed["finance/broken.sql"]["line"] == 2
    # Everything else is loaded, including the good statement of the broken file.
    assert feeds(empty_graph) == {("finance.journal", "finance.gl"), ("finance.src", "finance.ok")}
    files = sql_files(empty_graph)
    assert files["finance/broken.sql"]["status"] == "partial"
    assert files["finance/broken.sql"]["error_line"] == 2
    assert files["finance/binary.sql"]["status"] == "failed"
    assert "UTF-8" in files["finance/binary.sql"]["error_message"]

    (corpus / "finance" / "broken.sql").write_text(
        "INSERT INTO finance.ok SELECT a FROM finance.src2;"
    )
    (corpus / "finance" / "binary.sql").unlink()
    assert ingest(ingest_instance, corpus, "finance").success
    assert feeds(empty_graph) == {
        ("finance.journal", "finance.gl"),
        ("finance.src2", "finance.ok"),
    }
    assert sql_files(empty_graph)["finance/broken.sql"]["status"] == "ok"


def test_a_flag_alone_on_an_unchanged_folder_says_why_nothing_loads(
    ingest_instance, corpus, empty_graph
):
    assert ingest(ingest_instance, corpus, "risk").success
    before = graph_snapshot(empty_graph)
    run = ingest(ingest_instance, corpus, "risk", flags={"parse_cache": False})
    assert run.success
    assert run.load_metadata["files_loaded"] == 0 and run.load_metadata["files_parsed"] == 0
    assert "cache_misses" not in run.load_metadata and "cache_hits" not in run.load_metadata
    messages = [entry.user_message for entry in ingest_instance.all_logs(run.run_id)]
    assert any("nothing to load, its 2 files are unchanged" in m for m in messages)
    assert any("full_refresh (or the lineage/full_refresh tag) re-parses" in m for m in messages)
    assert graph_snapshot(empty_graph) == before


def test_a_run_with_the_partition_default_config_carries_every_flag(
    ingest_instance, corpus, empty_graph
):
    """What a sensor or a UI backfill launches: the partition's default run config only."""
    from lineage_dagster.definitions import resolved_ingest_job

    ingest_instance.add_dynamic_partitions("sql_sources", ["finance"])
    job = resolved_ingest_job()
    config = job.partitioned_config.get_run_config_for_partition_key("finance")
    # The folder, which a deployment sets with LINEAGE_SQL_ROOT.
    sql_source = {"sql_source": {"config": {"root": str(corpus)}}}
    with dg.execute_job(
        dg.reconstructable(resolved_ingest_job),
        instance=ingest_instance,
        run_config={**config, "resources": {**config["resources"], **sql_source}},
        tags={"dagster/partition": "finance"},
    ) as result:
        assert result.success
        run_config = ingest_instance.get_run_by_id(result.run_id).run_config
    assert set(run_config["resources"]["feature_flags"]["config"]) == {
        "parse_cache",
        "batching",
        "neo4j_batch",
        "metrics",
    }
    assert list(run_config["execution"]["config"]) == ["multiprocess"]
    assert feeds(empty_graph) == {("finance.journal", "finance.gl")}


def _latest_check(instance: dg.DagsterInstance) -> tuple[str, dict]:
    [record] = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(lineage_graph.key, EVERY_FILE_PARSED), limit=1
    )
    evaluation = record.event.dagster_event.event_specific_data
    return record.status.value, {key: value.value for key, value in evaluation.metadata.items()}


def _standalone_check(server) -> bool:
    """The check run on its own (the UI's "Execute"), against the graph as it is."""
    neo4j = Neo4jResource(uri=server.uri, user=server.user, password=server.password)
    return every_file_parsed(neo4j=neo4j).passed


def test_a_run_with_a_failed_file_is_tagged_and_fails_the_asset_check(
    ingest_instance, corpus, empty_graph, neo4j_env
):
    clean = ingest(ingest_instance, corpus, "risk")
    assert FILES_FAILED_TAG not in ingest_instance.get_run_by_id(clean.run_id).tags
    assert _latest_check(ingest_instance)[0] == "SUCCEEDED"
    assert ingest_instance.get_materialized_partitions(sql_files_asset.key) == {"risk"}

    (corpus / "finance" / "broken.sql").write_text("SELECT a FROM finance.src;\nSELECT (1 + ;\n")
    partial = ingest(ingest_instance, corpus, "finance")
    assert partial.success
    assert ingest_instance.get_run_by_id(partial.run_id).tags[FILES_FAILED_TAG] == "1"
    status, metadata = _latest_check(ingest_instance)
    assert status == "FAILED"
    assert metadata["files_failed"] == 1 and metadata["partitions"] == ["finance"]
    [failed] = metadata["failed_files"]
    assert (failed["path"], failed["line"], failed["status"]) == (
        "finance/broken.sql",
        2,
        "partial",
    )
    assert not _standalone_check(neo4j_env)
    assert ingest_instance.get_materialized_partitions(sql_files_asset.key) == {"risk", "finance"}

    # Another folder's clean run does not hide the broken file; fixing it does.
    ingest(ingest_instance, corpus, "risk", full_refresh=True)
    assert _latest_check(ingest_instance)[0] == "FAILED"
    (corpus / "finance" / "broken.sql").write_text("SELECT a FROM finance.src;\n")
    fixed = ingest(ingest_instance, corpus, "finance")
    assert FILES_FAILED_TAG not in ingest_instance.get_run_by_id(fixed.run_id).tags
    assert _latest_check(ingest_instance) == (
        "SUCCEEDED",
        {"files_failed": 0, "partitions": [], "failed_files": []},
    )
    assert _standalone_check(neo4j_env)


BOOKS_DDL = "CREATE TABLE ref.books (book_id INT, desk TEXT);\n"
PNL = (
    "INSERT INTO risk.pnl SELECT desk, SUM(value) AS pnl "
    "FROM risk.exposure e JOIN ref.books b ON e.book = b.book_id GROUP BY desk;\n"
)


def test_a_changed_ddl_in_one_folder_re_extracts_its_readers_in_another(
    ingest_instance, corpus, empty_graph
):
    (corpus / "ref").mkdir()
    (corpus / "ref" / "books.sql").write_text(BOOKS_DDL)
    (corpus / "risk" / "pnl.sql").write_text(PNL)
    runs = {partition: ingest(ingest_instance, corpus, partition) for partition in ("ref", "risk")}
    assert all(run.success for run in runs.values())
    # The run's coverage: every target column of risk's three files derives from a column.
    metadata = runs["risk"].load_metadata
    assert (metadata["columns_value_lineage"], metadata["columns_no_lineage"]) == (6, 0)
    # risk.exposure's columns come from its INSERT's list (book, value), ref.books' from the
    # DDL in another folder: every bare column of pnl.sql finds its table.
    assert ("risk.pnl.desk", "ref.books.desk", "direct") in derives_from(empty_graph)
    assert ("risk.pnl.pnl", "risk.exposure.value", "aggregation") in derives_from(empty_graph)

    (corpus / "ref" / "books.sql").write_text("CREATE TABLE ref.books (book_id INT, region TEXT);")
    assert ingest(ingest_instance, corpus, "ref").success
    # ref's run found that a file of risk read the changed table: the sensor will ask for risk.
    cache = ParseCache(default_cache_path(Path(ingest_instance.root_directory)))
    assert set(cache.stale_partitions()) == {"risk"}
    again = ingest(ingest_instance, corpus, "risk")
    assert cache.stale_partitions() == {}
    assert again.success
    # Only the file that read ref.books is extracted and loaded again; its neighbours are not.
    assert (again.load_metadata["files_loaded"], again.load_metadata["cache_misses"]) == (1, 1)
    assert again.load_metadata["columns_value_lineage"] == 2
    edges = derives_from(empty_graph)
    assert ("risk.pnl.desk", "ref.books.desk", "direct") not in edges
    # desk is now in neither table's declared columns, but only risk.exposure may have more.
    assert ("risk.pnl.desk", "risk.exposure.desk", "direct") in edges
    assert ingest(ingest_instance, corpus, "risk").load_metadata["files_loaded"] == 0


ALL_FLAGS_ON = dict.fromkeys(FLAG_ENV_VARS, True)  # metrics on, without a gateway: warns only
FLAG_SETS = {
    "all_on": ALL_FLAGS_ON,
    "all_off": dict.fromkeys(FLAG_ENV_VARS, False),
    **{f"{name}_off": {**ALL_FLAGS_ON, name: False} for name in FLAG_ENV_VARS},
}


def test_every_flag_combination_builds_the_identical_graph(
    ingest_instance, corpus, empty_graph, tmp_path
):
    def build(name: str, flags: dict[str, bool], cache: Path) -> dict[str, dict]:
        empty_graph.execute_query("MATCH (n) DETACH DELETE n")
        flags = dict(flags)
        parallel = flags.pop("parallel", True)
        metadata = {}
        for partition in ("ref", "risk", "finance"):
            run = ingest(
                ingest_instance, corpus, partition, flags=flags, parallel=parallel, cache_path=cache
            )
            assert run.success, (name, run.step_failures)
            metadata[partition] = run.load_metadata
        return metadata

    # A file whose lineage depends on a DDL file in another folder.
    (corpus / "ref").mkdir()
    (corpus / "ref" / "books.sql").write_text(BOOKS_DDL)
    (corpus / "risk" / "pnl.sql").write_text(PNL)
    snapshots = {}
    for name, flags in FLAG_SETS.items():
        build(name, flags, tmp_path / f"cache-{name}.sqlite")
        snapshots[name] = graph_snapshot(empty_graph)
    # Warm: the graph is rebuilt from a full cache, without parsing anything.
    warm = build("all_on", ALL_FLAGS_ON, tmp_path / "cache-all_on.sqlite")
    assert warm["risk"]["cache_hits"] == 3 and warm["risk"]["cache_misses"] == 0
    snapshots["all_on_warm"] = graph_snapshot(empty_graph)

    baseline = snapshots.pop("all_on")
    assert count(empty_graph, "(:Table)") == 8
    assert ("risk.pnl.desk", "ref.books.desk", "direct") in derives_from(empty_graph)
    for name, snapshot in snapshots.items():
        assert snapshot == baseline, f"{name} built a different graph"


def test_files_in_the_cache_go_to_the_load_step_without_a_parse_step(
    ingest_instance, corpus, empty_graph, tmp_path
):
    cache = tmp_path / "cache.sqlite"
    # Every batch worth a step: the cold run parses in a step of its own.
    cold = ingest(ingest_instance, corpus, "risk", cache_path=cache, plan={"min_batch_bytes": 1})
    before = graph_snapshot(empty_graph)
    empty_graph.execute_query("MATCH (n) DETACH DELETE n")
    warm = ingest(ingest_instance, corpus, "risk", cache_path=cache)
    assert cold.success and warm.success

    assert started_steps(ingest_instance, cold.run_id) == {
        "plan_sql_files",
        "parse_sql_batch",
        "load_lineage",
    }
    assert started_steps(ingest_instance, warm.run_id) == {"plan_sql_files", "load_lineage"}
    assert warm.load_metadata["cache_hits"] == 2 and warm.load_metadata["files_parsed"] == 0
    assert graph_snapshot(empty_graph) == before


def test_files_too_few_for_a_parse_step_are_parsed_by_the_load_step(
    ingest_instance, corpus, empty_graph, tmp_path
):
    in_steps = ingest(
        ingest_instance,
        corpus,
        "risk",
        plan={"min_batch_bytes": 1},
        cache_path=tmp_path / "steps.sqlite",
    )
    with_steps = graph_snapshot(empty_graph)
    empty_graph.execute_query("MATCH (n) DETACH DELETE n")
    # Two small files, less than a batch worth a step; an empty cache, so both are parsed.
    in_load = ingest(ingest_instance, corpus, "risk", cache_path=tmp_path / "load.sqlite")
    assert in_steps.success and in_load.success
    assert started_steps(ingest_instance, in_steps.run_id) == {
        "plan_sql_files",
        "parse_sql_batch",
        "load_lineage",
    }
    assert started_steps(ingest_instance, in_load.run_id) == {"plan_sql_files", "load_lineage"}
    assert in_load.load_metadata["files_parsed"] == 2 and in_load.load_metadata["cache_hits"] == 0
    assert graph_snapshot(empty_graph) == with_steps


def started_steps(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    """The ops whose steps a run started (mapped steps once, without their key)."""
    return {
        event.step_key.split("[")[0]
        for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
        if event.step_key
    }
