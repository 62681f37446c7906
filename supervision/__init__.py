"""Supervision (监督): how well the city's units handle their work and how good their feeds' data are, over any
period; the history behind those figures, shift handovers, and the reports made on schedule.

It reads what the store keeps (incidents, their timelines, the feeds' data) and the organisation and calendar of
alerts/; the dashboard shows it. It never changes an incident.
"""
