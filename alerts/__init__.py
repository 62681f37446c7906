"""Alerts: what the data means — device status levels, rules and the engine that evaluates them, the alert
lifecycle with the one door for people's actions on it, time limits, CAP export and replay."""
