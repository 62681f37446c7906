"""Access: who may do what, decided in one place below every page, callback, API and CLI that asks."""
