"""Local services for `make dev` and the tests: an embedded Neo4j, a Pushgateway and Prometheus,
and a throwaway PostgreSQL for the production-profile tests."""
