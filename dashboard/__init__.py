"""The Dash app: the request guard and sign-in, the pages, map layers served by URL, the health report, translations
and the assets the pages load."""
