"""A graph written before canonical table keys (Snowflake's FINANCE.GL as its own node beside
T-SQL's finance.gl) converges on one node per table when its files are re-loaded, as the
extractor version bump makes every folder do; nothing of the old spelling is left."""

import pytest

from lineage_dagster.graph.load import ensure_constraints, load_files
from lineage_dagster.parsing import extract_lineage
from lineage_dagster_tests.graph_helpers import count, feeds, table_names

pytestmark = pytest.mark.integration

SNOWFLAKE = ("finance/gl.sql", "INSERT INTO finance.gl (amount) SELECT amt FROM raw.journal;\n")
TSQL = (
    "risk/report.sql",
    "INSERT INTO rpt.gl_report (total) SELECT SUM(amount) FROM finance.gl;\n",
)

# What the previous version stored for these two files: each dialect's spelling as the key.
OLD_GRAPH = """
CREATE (f1:SqlFile {path: 'finance/gl.sql', partition: 'finance', extractor_version: '1.4.0'})
CREATE (f2:SqlFile {path: 'risk/report.sql', partition: 'risk', extractor_version: '1.4.0'})
CREATE (f1)-[:CONTAINS]->(s1:Statement {id: 'finance/gl.sql#0', file: 'finance/gl.sql'})
CREATE (f2)-[:CONTAINS]->(s2:Statement {id: 'risk/report.sql#0', file: 'risk/report.sql'})
CREATE (journal:Table {name: 'RAW.JOURNAL'}), (upper:Table {name: 'FINANCE.GL'}),
       (lower:Table {name: 'finance.gl'}), (report:Table {name: 'rpt.gl_report'})
CREATE (s1)-[:READS]->(journal), (s1)-[:WRITES]->(upper),
       (s2)-[:READS]->(lower), (s2)-[:WRITES]->(report)
CREATE (journal)-[:FEEDS {statement_id: s1.id, file: s1.file}]->(upper)
CREATE (lower)-[:FEEDS {statement_id: s2.id, file: s2.file}]->(report)
CREATE (amt:Column {id: 'RAW.JOURNAL.AMT', table: 'RAW.JOURNAL', name: 'AMT'}),
       (amount:Column {id: 'FINANCE.GL.AMOUNT', table: 'FINANCE.GL', name: 'AMOUNT'}),
       (lower_amount:Column {id: 'finance.gl.amount', table: 'finance.gl', name: 'amount'}),
       (total:Column {id: 'rpt.gl_report.total', table: 'rpt.gl_report', name: 'total'})
CREATE (s1)-[:WRITES_COLUMN]->(amount), (s2)-[:WRITES_COLUMN]->(total)
CREATE (amount)-[:DERIVES_FROM {statement_id: s1.id, file: s1.file, kind: 'direct'}]->(amt)
CREATE (total)-[:DERIVES_FROM {statement_id: s2.id, file: s2.file, kind: 'aggregation'}]
       ->(lower_amount)
"""


def test_reloading_an_old_graph_leaves_one_node_per_table(empty_graph):
    with empty_graph.session() as session:
        ensure_constraints(session)
        session.run(OLD_GRAPH).consume()
        assert {"FINANCE.GL", "finance.gl"} <= table_names(empty_graph)
        lineage = [
            extract_lineage(SNOWFLAKE[1], dialect="snowflake", path=SNOWFLAKE[0]),
            extract_lineage(TSQL[1], dialect="tsql", path=TSQL[0]),
        ]
        load_files(session, lineage)
    assert table_names(empty_graph) == {"raw.journal", "finance.gl", "rpt.gl_report"}
    assert feeds(empty_graph) == {("raw.journal", "finance.gl"), ("finance.gl", "rpt.gl_report")}
    assert count(empty_graph, "(c:Column) WHERE c.id <> toLower(c.id)") == 0
    records, _, _ = empty_graph.execute_query(
        "MATCH (t:Table {name: 'finance.gl'}) RETURN t.written AS written"
    )
    assert [r["written"] for r in records] == ["FINANCE.GL"]
