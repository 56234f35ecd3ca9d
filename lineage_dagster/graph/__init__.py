"""Neo4j graph writing for lineage: Cypher in ``queries``, batching and replacement in ``load``."""
