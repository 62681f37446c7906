"""Pages of the app: one module each, registered by dashboard.app."""
