"""The units alerts are dispatched to, as the desk names them and suggests one."""

from __future__ import annotations


def suggested_unit(units: dict, alert: dict) -> str | None:
    """The unit dispatched before, else the rule's kind of unit in the alert's district, else anywhere."""
    if alert["unit_id"] in units:
        return alert["unit_id"]
    of_type = [u for u in units.values() if u.type == alert["unit_type"]]
    local = [u for u in of_type if u.district and u.district == alert["district_id"]]
    best = local or of_type
    return best[0].id if best else None
