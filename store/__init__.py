"""The store: one DuckDB file, its schema and migrations, the batch writer and the read queries."""
