"""The store, the ground floor: the vocabulary every part speaks (records.py), one DuckDB file with its schema and
migrations, the batch writer, the read queries, feed health, and the accounts and audit log beside it."""
