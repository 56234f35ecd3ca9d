"""Cypher for the lineage graph, as parameterised constants (values are never formatted in).

The model is documented in docs/graph-model.md. Every lineage edge records the file (and
statement) that produced it, so one file's lineage can be replaced or removed as a unit.
Shared nodes (files, tables, columns) are MERGEd on their unique keys; a file's statements and
edges are CREATEd, because the same transaction first deletes everything the file produced
before, and the rows are de-duplicated: no existence check per edge is needed. Each CREATE
query returns how many relationships it made, so an edge whose end node a concurrent run
removed (see ``load.sync_files``) is never lost silently.
"""

SCHEMA_STATEMENTS: tuple[str, ...] = (
    "CREATE CONSTRAINT sql_file_path IF NOT EXISTS FOR (n:SqlFile) REQUIRE n.path IS UNIQUE",
    "CREATE CONSTRAINT statement_id IF NOT EXISTS FOR (n:Statement) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT table_name IF NOT EXISTS FOR (n:Table) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT column_id IF NOT EXISTS FOR (n:Column) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX sql_file_partition IF NOT EXISTS FOR (n:SqlFile) ON (n.partition)",
    # A table's columns are found by this property (there is no HAS_COLUMN relationship).
    "CREATE INDEX column_table IF NOT EXISTS FOR (n:Column) ON (n.table)",
    # Earlier versions indexed FEEDS.file and DERIVES_FROM.file; every CREATE of those types
    # paid for it. A file's edges are now found from its statements instead.
    "DROP INDEX feeds_file IF EXISTS",
    "DROP INDEX derives_from_file IF EXISTS",
)

# Graphs written before WRITES_COLUMN existed had HAS_COLUMN instead. Their condition edges stay
# explicit DERIVES_FROM edges (readers take both forms) until their files are loaded again.
OLD_MODEL_PRESENT = "RETURN EXISTS { MATCH ()-[:HAS_COLUMN]->() } AS present"

MIGRATE_WRITES_COLUMN = """
MATCH (target:Column)-[r:DERIVES_FROM]->()
WITH DISTINCT target, r.statement_id AS statement_id
CALL (target, statement_id) {
    MATCH (s:Statement {id: statement_id})
    MERGE (s)-[:WRITES_COLUMN]->(target)
} IN TRANSACTIONS OF 10000 ROWS
"""

MIGRATE_DROP_HAS_COLUMN = """
MATCH ()-[r:HAS_COLUMN]->()
CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS
"""

# A file's lineage edges hang off its statements: FEEDS into the tables a statement WRITES and
# DERIVES_FROM out of the columns it WRITES_COLUMN, each carrying the statement's id. They are
# deleted before the statements (DETACH DELETE then removes CONTAINS, READS, WRITES,
# WRITES_COLUMN and FILTERS_ON).
DELETE_FEEDS = """
UNWIND $paths AS path
MATCH (:SqlFile {path: path})-[:CONTAINS]->(s:Statement)-[:WRITES]->(:Table)<-[r:FEEDS]-()
WHERE r.statement_id = s.id
DELETE r
"""

DELETE_DERIVES_FROM = """
UNWIND $paths AS path
MATCH (:SqlFile {path: path})-[:CONTAINS]->(s:Statement)-[:WRITES_COLUMN]->(target:Column)
MATCH (target)-[r:DERIVES_FROM]->(source:Column)
WHERE r.statement_id = s.id
DELETE r
RETURN source.id AS column
"""

DELETE_STATEMENTS = """
UNWIND $paths AS path
MATCH (:SqlFile {path: path})-[:CONTAINS]->(s:Statement)
CALL (s) {
    OPTIONAL MATCH (s)-[:READS|WRITES]->(t:Table)
    RETURN collect(DISTINCT t.name) AS tables
}
CALL (s) {
    OPTIONAL MATCH (s)-[:WRITES_COLUMN|FILTERS_ON]->(c:Column)
    RETURN collect(DISTINCT c.id) AS columns
}
DETACH DELETE s
RETURN tables, columns
"""

DELETE_FILES = """
UNWIND $paths AS path
MATCH (f:SqlFile {path: path})
DETACH DELETE f
"""

# A clean-up first takes each candidate's write lock (setting and removing a property: the lock
# idiom of Neo4j's "Concurrent data access" docs), then checks it is unused. Without the lock the
# check reads only committed edges: an edge a concurrent transaction creates would be deleted
# with the node once that one commits, and two transactions each removing one of a table's last
# two statements would both keep it. With it, the second waits for the first (or Neo4j reports a
# deadlock, and the driver runs one of them again), then sees what the first did.
#
# A column no statement uses any more goes, unless a field column read elsewhere still hangs
# off it; a field column takes its FIELD_OF edge with it, and returns the column holding it.
CLEANUP_COLUMNS = """
UNWIND $ids AS id
MATCH (c:Column {id: id})
SET c._LOCK_ = true
REMOVE c._LOCK_
WITH c
WHERE NOT (c)-[:DERIVES_FROM]-() AND NOT (c)<-[:WRITES_COLUMN|FILTERS_ON|FIELD_OF]-()
OPTIONAL MATCH (c)-[:FIELD_OF]->(parent:Column)
DETACH DELETE c
RETURN parent.id AS parent
"""

CLEANUP_TABLES = """
UNWIND $names AS name
MATCH (t:Table {name: name})
SET t._LOCK_ = true
REMOVE t._LOCK_
WITH t, name
WHERE NOT (t)<-[:READS|WRITES]-(:Statement) AND NOT EXISTS { MATCH (:Column {table: name}) }
DETACH DELETE t
"""

MERGE_FILES = """
UNWIND $rows AS row
MERGE (f:SqlFile {path: row.path})
SET f.partition = row.partition,
    f.sha256 = row.sha256,
    f.dialect = row.dialect,
    f.extractor_version = row.extractor_version,
    f.schema_tables = row.schema_tables,
    f.schema_digest = row.schema_digest,
    f.statement_count = row.statement_count,
    f.error_count = row.error_count,
    f.status = row.status,
    f.error_message = row.error_message,
    f.error_line = row.error_line,
    f.error_column = row.error_column
"""

GET_LOADED_FILES = """
MATCH (f:SqlFile {partition: $partition})
RETURN f.path AS path, f.sha256 AS sha256, f.extractor_version AS extractor_version,
       f.schema_tables AS schema_tables, f.schema_digest AS schema_digest
"""

GET_SCHEMA_READERS = """
MATCH (f:SqlFile)
WHERE f.partition <> $partition AND size(coalesce(f.schema_tables, [])) > 0
RETURN f.partition AS partition, f.schema_tables AS schema_tables, f.schema_digest AS schema_digest
"""

GET_FAILED_FILES = """
MATCH (f:SqlFile)
WHERE f.status <> 'ok'
RETURN f.path AS path, f.partition AS partition, f.status AS status,
       f.error_line AS line, f.error_message AS message
ORDER BY f.path
"""

# A table is keyed by its canonical name; ``written`` keeps one spelling as the scripts write it
# (the smallest, so the result does not depend on the order files load in). Only a smaller
# spelling than the one read is written, so a load of an existing table takes no write lock for
# it; the SET reads ``t.written`` again, which makes Cypher lock the node before that read, so a
# concurrent transaction's smaller spelling committed meanwhile is never overwritten.
MERGE_TABLES = """
UNWIND $rows AS row
MERGE (t:Table {name: row.name})
WITH t, row
WHERE row.written IS NOT NULL AND (t.written IS NULL OR row.written < t.written)
SET t.written = CASE
    WHEN t.written IS NULL OR row.written < t.written THEN row.written
    ELSE t.written
END
"""

MERGE_COLUMNS = """
UNWIND $rows AS row
MERGE (c:Column {id: row.id})
ON CREATE SET c.name = row.name, c.table = row.table
"""

# One row per statement: the statement node and its table edges in one lookup of the file.
CREATE_STATEMENTS = """
UNWIND $rows AS row
MATCH (f:SqlFile {path: row.path})
CREATE (f)-[:CONTAINS]->(s:Statement {
    id: row.id,
    file: row.path,
    index: row.index,
    line: row.line,
    kind: row.kind,
    error_message: row.error_message,
    error_line: row.error_line,
    error_column: row.error_column
})
WITH s, row
CALL (s, row) {
    UNWIND row.reads AS name
    MATCH (t:Table {name: name})
    CREATE (s)-[:READS]->(t)
    RETURN count(*) AS reads
}
CALL (s, row) {
    UNWIND row.writes AS name
    MATCH (t:Table {name: name})
    CREATE (s)-[:WRITES]->(t)
    RETURN count(*) AS writes
}
RETURN sum(1 + reads + writes) AS created
"""

CREATE_FEEDS = """
UNWIND $rows AS row
MATCH (source:Table {name: row.source})
MATCH (target:Table {name: row.target})
CREATE (source)-[:FEEDS {statement_id: row.statement_id, file: row.file}]->(target)
RETURN count(*) AS created
"""

# One row per statement with columns: the columns it writes, the columns its conditions read.
CREATE_STATEMENT_COLUMNS = """
UNWIND $rows AS row
MATCH (s:Statement {id: row.statement_id})
CALL (s, row) {
    UNWIND row.writes AS id
    MATCH (c:Column {id: id})
    CREATE (s)-[:WRITES_COLUMN]->(c)
    RETURN count(*) AS writes
}
CALL (s, row) {
    UNWIND row.filters AS id
    MATCH (c:Column {id: id})
    CREATE (s)-[:FILTERS_ON]->(c)
    RETURN count(*) AS filters
}
RETURN sum(writes + filters) AS created
"""

CREATE_DERIVES_FROM = """
UNWIND $rows AS row
MATCH (source:Column {id: row.source})
MATCH (target:Column {id: row.target})
CREATE (target)-[:DERIVES_FROM {
    statement_id: row.statement_id, kind: row.kind, file: row.file
}]->(source)
RETURN count(*) AS created
"""

# A struct field column belongs to the column holding it, whichever statements read it: one edge,
# MERGEd by every load that reads the field, removed with the field column.
MERGE_FIELD_OF = """
UNWIND $rows AS row
MATCH (field:Column {id: row.field})
MATCH (parent:Column {id: row.parent})
MERGE (field)-[:FIELD_OF]->(parent)
RETURN count(*) AS created
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
MATCH (c:Column {table: $table})
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

# Column steps return the value edges (DERIVES_FROM), a struct field's edge to the column holding
# it (FIELD_OF, kind 'field'), and the condition edges a statement implies: each column it
# FILTERS_ON can change the rows of each column it WRITES_COLUMN, except where the same statement
# already derives that column's value from it.
COLUMN_UPSTREAM_STEP = """
UNWIND $keys AS key
MATCH (target:Column {id: key})
CALL (target) {
    MATCH (target)-[r:DERIVES_FROM]->(source:Column)
    RETURN source, r.statement_id AS statement_id, r.file AS file, r.kind AS kind
    UNION
    MATCH (target)-[:FIELD_OF]->(source:Column)
    RETURN source, null AS statement_id, null AS file, 'field' AS kind
    UNION
    MATCH (target)<-[:WRITES_COLUMN]-(s:Statement)-[:FILTERS_ON]->(source:Column)
    WHERE NOT EXISTS { MATCH (target)-[v:DERIVES_FROM]->(source) WHERE v.statement_id = s.id }
    RETURN source, s.id AS statement_id, s.file AS file, 'condition' AS kind
}
OPTIONAL MATCH (s:Statement {id: statement_id})
RETURN source.id AS source, target.id AS target, statement_id, file, s.line AS line, kind
"""

COLUMN_DOWNSTREAM_STEP = """
UNWIND $keys AS key
MATCH (source:Column {id: key})
CALL (source) {
    MATCH (target:Column)-[r:DERIVES_FROM]->(source)
    RETURN target, r.statement_id AS statement_id, r.file AS file, r.kind AS kind
    UNION
    MATCH (target:Column)-[:FIELD_OF]->(source)
    RETURN target, null AS statement_id, null AS file, 'field' AS kind
    UNION
    MATCH (source)<-[:FILTERS_ON]-(s:Statement)-[:WRITES_COLUMN]->(target:Column)
    WHERE NOT EXISTS { MATCH (target)-[v:DERIVES_FROM]->(source) WHERE v.statement_id = s.id }
    RETURN target, s.id AS statement_id, s.file AS file, 'condition' AS kind
}
OPTIONAL MATCH (s:Statement {id: statement_id})
RETURN source.id AS source, target.id AS target, statement_id, file, s.line AS line, kind
"""

# Value lineage alone: where a column's values come from, without the columns that only decide
# which rows it holds.
COLUMN_UPSTREAM_VALUE_STEP = """
UNWIND $keys AS key
MATCH (target:Column {id: key})-[r:DERIVES_FROM|FIELD_OF]->(source:Column)
WHERE coalesce(r.kind, 'field') <> 'condition'
OPTIONAL MATCH (s:Statement {id: r.statement_id})
RETURN source.id AS source, target.id AS target, r.statement_id AS statement_id, r.file AS file,
       s.line AS line, coalesce(r.kind, 'field') AS kind
"""

COLUMN_DOWNSTREAM_VALUE_STEP = """
UNWIND $keys AS key
MATCH (target:Column)-[r:DERIVES_FROM|FIELD_OF]->(source:Column {id: key})
WHERE coalesce(r.kind, 'field') <> 'condition'
OPTIONAL MATCH (s:Statement {id: r.statement_id})
RETURN source.id AS source, target.id AS target, r.statement_id AS statement_id, r.file AS file,
       s.line AS line, coalesce(r.kind, 'field') AS kind
"""

# ---------------------------------------------------------------------------------------------
# The warehouse catalog (graph/catalog.py, the asset view): one query per kind of fact, each
# aggregated per table on the server, so a read is a handful of scans however large the graph,
# and the driver decodes one record per table instead of one per node or edge (3-4x faster at
# 50,000 columns).
# ---------------------------------------------------------------------------------------------

CATALOG_TABLES = """
MATCH (t:Table)
OPTIONAL MATCH (source:Table)-[:FEEDS]->(t)
RETURN t.name AS name, collect(DISTINCT source.name) AS upstream
"""

CATALOG_COLUMNS = """
MATCH (c:Column)
RETURN c.table AS table, collect(c.name) AS names
"""

CATALOG_WRITERS = """
MATCH (f:SqlFile)-[:CONTAINS]->(s:Statement)-[:WRITES]->(t:Table)
RETURN t.name AS table,
       collect([s.id, f.path, s.line, s.kind, f.dialect, f.partition]) AS writers
"""

CATALOG_READERS = """
MATCH (f:SqlFile)-[:CONTAINS]->(:Statement)-[:READS]->(t:Table)
RETURN t.name AS table, collect(DISTINCT f.partition) AS partitions
"""

# Value lineage only: condition columns are stored once per statement (FILTERS_ON) and their
# product with the written columns is not expanded here (see docs/graph-model.md). Each edge's
# statement writes the target's table, so its line comes from CATALOG_WRITERS.
CATALOG_COLUMN_LINEAGE = """
MATCH (target:Column)-[d:DERIVES_FROM]->(source:Column)
RETURN target.table AS table,
       collect([target.name, source.table, source.name, d.kind, d.file, d.statement_id]) AS edges
"""

# Health: what `lineage-dagster status` reads.
SCHEMA_CONSTRAINT_NAMES = "SHOW CONSTRAINTS YIELD name RETURN name"
SCHEMA_ONLINE_INDEX_NAMES = "SHOW INDEXES YIELD name, state WHERE state = 'ONLINE' RETURN name"
FILES_WITH_ERRORS = """
MATCH (f:SqlFile) WHERE f.status <> 'ok'
WITH f ORDER BY f.path
WITH count(f) AS total, collect(f)[..$limit] AS shown
RETURN total,
       [f IN shown | {path: f.path, partition: f.partition, status: f.status,
                      line: f.error_line, message: f.error_message}] AS files
"""
