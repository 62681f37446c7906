"""The Dash app: pages, map layers served by URL, translations."""
