"""Alerts: what the data means — status levels now; rules, lifecycle and time limits build on them."""
