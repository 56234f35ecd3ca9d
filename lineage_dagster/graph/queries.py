"""Cypher for the lineage graph, as parameterised constants (values are never formatted in).

The model is documented in docs/graph-model.md. Every lineage edge records the file (and
statement) that produced it, so one file's lineage can be replaced or removed as a unit.
Shared nodes (files, tables, columns) are MERGEd on their unique keys; a file's statements and
edges are CREATEd, because the same transaction first deletes everything the file produced
before, and the rows are de-duplicated: no existence check per edge is needed.
"""

SCHEMA_STATEMENTS: tuple[str, ...] = (
    "CREATE CONSTRAINT sql_file_path IF NOT EXISTS FOR (n:SqlFile) REQUIRE n.path IS UNIQUE",
    "CREATE CONSTRAINT statement_id IF NOT EXISTS FOR (n:Statement) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT table_name IF NOT EXISTS FOR (n:Table) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT column_id IF NOT EXISTS FOR (n:Column) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX sql_file_partition IF NOT EXISTS FOR (n:SqlFile) ON (n.partition)",
    # Replacing a file's lineage finds its edges by file; without these it scans every edge.
    "CREATE INDEX feeds_file IF NOT EXISTS FOR ()-[r:FEEDS]-() ON (r.file)",
    "CREATE INDEX derives_from_file IF NOT EXISTS FOR ()-[r:DERIVES_FROM]-() ON (r.file)",
)

DELETE_STATEMENTS = """
UNWIND $paths AS path
MATCH (:SqlFile {path: path})-[:CONTAINS]->(s:Statement)
OPTIONAL MATCH (s)-[:READS|WRITES]->(t:Table)
WITH s, collect(t.name) AS tables
DETACH DELETE s
RETURN tables
"""

DELETE_FEEDS = """
UNWIND $paths AS path
MATCH ()-[r:FEEDS {file: path}]->()
DELETE r
"""

DELETE_DERIVES_FROM = """
UNWIND $paths AS path
MATCH (target:Column)-[r:DERIVES_FROM {file: path}]->(source:Column)
DELETE r
RETURN [target.id, source.id] AS columns
"""

DELETE_FILES = """
UNWIND $paths AS path
MATCH (f:SqlFile {path: path})
DETACH DELETE f
"""

CLEANUP_COLUMNS = """
UNWIND $ids AS id
MATCH (c:Column {id: id})
WHERE NOT (c)-[:DERIVES_FROM]-()
DETACH DELETE c
"""

CLEANUP_TABLES = """
UNWIND $names AS name
MATCH (t:Table {name: name})
WHERE NOT (t)<-[:READS|WRITES]-(:Statement) AND NOT (t)-[:HAS_COLUMN]->()
DETACH DELETE t
"""

MERGE_FILES = """
UNWIND $rows AS row
MERGE (f:SqlFile {path: row.path})
SET f.partition = row.partition,
    f.sha256 = row.sha256,
    f.dialect = row.dialect,
    f.extractor_version = row.extractor_version,
    f.statement_count = row.statement_count,
    f.error_count = row.error_count,
    f.status = row.status,
    f.error_message = row.error_message,
    f.error_line = row.error_line,
    f.error_column = row.error_column
"""

GET_LOADED_FILES = """
MATCH (f:SqlFile {partition: $partition})
RETURN f.path AS path, f.sha256 AS sha256, f.extractor_version AS extractor_version
"""

MERGE_TABLES = """
UNWIND $rows AS row
MERGE (:Table {name: row.name})
"""

CREATE_STATEMENTS = """
UNWIND $rows AS row
MATCH (f:SqlFile {path: row.path})
CREATE (f)-[:CONTAINS]->(:Statement {
    id: row.id,
    file: row.path,
    index: row.index,
    line: row.line,
    kind: row.kind,
    error_message: row.error_message,
    error_line: row.error_line,
    error_column: row.error_column
})
"""

CREATE_READS = """
UNWIND $rows AS row
MATCH (s:Statement {id: row.statement_id})
MATCH (t:Table {name: row.table})
CREATE (s)-[:READS]->(t)
"""

CREATE_WRITES = """
UNWIND $rows AS row
MATCH (s:Statement {id: row.statement_id})
MATCH (t:Table {name: row.table})
CREATE (s)-[:WRITES]->(t)
"""

CREATE_FEEDS = """
UNWIND $rows AS row
MATCH (source:Table {name: row.source})
MATCH (target:Table {name: row.target})
CREATE (source)-[:FEEDS {statement_id: row.statement_id, file: row.file}]->(target)
"""

MERGE_COLUMNS = """
UNWIND $rows AS row
MATCH (t:Table {name: row.table})
MERGE (c:Column {id: row.id})
ON CREATE SET c.name = row.name, c.table = row.table
MERGE (t)-[:HAS_COLUMN]->(c)
"""

CREATE_DERIVES_FROM = """
UNWIND $rows AS row
MATCH (source:Column {id: row.source})
MATCH (target:Column {id: row.target})
CREATE (target)-[:DERIVES_FROM {
    statement_id: row.statement_id, kind: row.kind, file: row.file
}]->(source)
"""

# ---------------------------------------------------------------------------------------------
# Reading lineage (graph/read.py, the `lineage-dagster lineage` command).
#
# Each *_STEP query walks one hop from a frontier of keys; read.py repeats it level by level,
# because Cypher takes no parameters in variable-length bounds (`*1..$depth`), and a walk by
# level gives each node its shortest distance and stops cleanly on cycles.
# ---------------------------------------------------------------------------------------------

GET_TABLE = """
MATCH (t:Table {name: $name})
RETURN t.name AS name
"""

GET_TABLE_NAMES = """
MATCH (t:Table)
RETURN t.name AS name
"""

GET_COLUMN = """
MATCH (c:Column {id: $id})
RETURN c.id AS id
"""

GET_TABLE_COLUMN_NAMES = """
MATCH (:Table {name: $table})-[:HAS_COLUMN]->(c:Column)
RETURN c.name AS name
"""

TABLE_UPSTREAM_STEP = """
UNWIND $keys AS key
MATCH (source:Table)-[r:FEEDS]->(target:Table {name: key})
OPTIONAL MATCH (s:Statement {id: r.statement_id})
RETURN source.name AS source, target.name AS target, r.statement_id AS statement_id,
       r.file AS file, s.line AS line, null AS kind
"""

TABLE_DOWNSTREAM_STEP = """
UNWIND $keys AS key
MATCH (source:Table {name: key})-[r:FEEDS]->(target:Table)
OPTIONAL MATCH (s:Statement {id: r.statement_id})
RETURN source.name AS source, target.name AS target, r.statement_id AS statement_id,
       r.file AS file, s.line AS line, null AS kind
"""

COLUMN_UPSTREAM_STEP = """
UNWIND $keys AS key
MATCH (target:Column {id: key})-[r:DERIVES_FROM]->(source:Column)
OPTIONAL MATCH (s:Statement {id: r.statement_id})
RETURN source.id AS source, target.id AS target, r.statement_id AS statement_id,
       r.file AS file, s.line AS line, r.kind AS kind
"""

COLUMN_DOWNSTREAM_STEP = """
UNWIND $keys AS key
MATCH (target:Column)-[r:DERIVES_FROM]->(source:Column {id: key})
OPTIONAL MATCH (s:Statement {id: r.statement_id})
RETURN source.id AS source, target.id AS target, r.statement_id AS statement_id,
       r.file AS file, s.line AS line, r.kind AS kind
"""
