"""/admin/feeds: every feed's health, the dead letters, and replaying one after the feed's configuration is fixed.

Raw payloads are shown as text (Dash renders strings as text, never as HTML): what a source sent is evidence,
and an integrator reads it here to see why it failed.

Read it room by room: `layout.py` (the page), `ingest.py` (how the store keeps up), `health.py` (the feeds' states
and their changes), `letters.py` (the dead letters, one payload, and replaying it), and `callbacks.py`, which only
wires Dash's callbacks to them.
"""

from dashboard.pages.feeds_admin.callbacks import register_callbacks
from dashboard.pages.feeds_admin.layout import layout

__all__ = ["layout", "register_callbacks"]
