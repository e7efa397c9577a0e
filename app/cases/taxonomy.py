"""The problem types, urgencies and remedies users choose from, with their labels."""

from app.i18n import LABELS
from app.i18n import lazy_gettext as _

PROBLEM_TYPES: dict[str, str] = {
    "quality_defect": _("Quality defect"),
    "not_as_described": _("Not as described"),
    "wrong_item": _("Wrong item"),
    "short_shipment": _("Short shipment"),
    "missing_parts": _("Missing parts"),
    "transit_damage": _("Damaged in transit"),
    "lost_in_transit": _("Lost in transit"),
    "late_delivery": _("Late delivery"),
    "customs_issue": _("Customs issue"),
    "other": _("Other"),
}

URGENCIES: dict[str, str] = {
    "low": _("Low"),
    "normal": _("Normal"),
    "high": _("High"),
    "critical": _("Critical"),
}

REMEDIES: dict[str, str] = {
    "return": _("Return"),
    "replacement": _("Replacement"),
    "repair": _("Repair"),
    "refund": _("Refund"),
    "partial_refund": _("Partial refund"),
    "credit_note": _("Credit note"),
    "discount": _("Discount"),
}

PARTIES: dict[str, str] = {
    "supplier": _("Supplier"),
    "carrier": _("Carrier"),
    "purchaser": _("Purchaser (us)"),
    "undetermined": _("Undetermined"),
}

LABELS["urgency"] = URGENCIES  # for the `label` filter (an edited urgency on the timeline)
LABELS["problem_type"] = PROBLEM_TYPES
