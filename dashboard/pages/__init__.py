"""Pages of the app: a module each, or a package of rooms for the larger ones; registered by dashboard.app."""
