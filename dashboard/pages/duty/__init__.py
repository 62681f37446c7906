"""/duty: the duty officer's console — the queue of open alerts against their time limits, one alert's detail, and
every action, all reachable from the keyboard.

The queue is ordered overdue first, then by severity and the nearest time limit; each row counts down to its limit in
the browser (assets/cityops_duty.js), so the server sends the queue only when the data changes. Selection and the
bulk-acknowledge marks live in the browser and survive every refresh; the selection and the filters are kept in the
URL, so a link opens the same picture. Every action goes through alerts.actions.act, which checks it against the
access policy and the lifecycle table; a refusal is said in the officer's language.

Read it room by room: `layout.py` (the page, its filters, the dialog and the help), `queue.py` (the ordered queue
and its rows), `detail.py` (one alert: summary, checklist, timeline, chart and small map), `actions.py` (the
buttons, the dialog, and doing an action), `units.py` (the units alerts are sent to), `desk.py` (what these read),
and `callbacks.py`, which only wires Dash's callbacks to them.
"""

from dashboard.pages.duty.callbacks import register_callbacks
from dashboard.pages.duty.layout import layout

__all__ = ["layout", "register_callbacks"]
