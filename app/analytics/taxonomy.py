"""Root causes, corrective action statuses and effect verdicts, with their labels."""

from app.i18n import LABELS
from app.i18n import lazy_gettext as _

# Product categories arrive as codes from the product master; the common ones have words in both languages.
CATEGORIES = {
    "electronics": _("Electronics"),
    "home_kitchen": _("Home and kitchen"),
    "textiles": _("Textiles"),
    "toys": _("Toys"),
    "tools": _("Tools"),
    "furniture": _("Furniture"),
    "apparel": _("Apparel"),
}


def category_label(code: str | None) -> str:
    """A category in words: the translated name, else the code made readable (home_garden → Home garden)."""
    if not code:
        return "—"
    known = CATEGORIES.get(code)
    return str(known) if known is not None else code.replace("_", " ").strip().capitalize()


ROOT_CAUSES = {
    "production": _("Production"),
    "material": _("Material"),
    "packaging": _("Packaging"),
    "handling_in_transit": _("Handling in transit"),
    "labelling": _("Labelling"),
    "documentation": _("Documentation"),
    "customs": _("Customs"),
    "customer_use": _("Customer use"),
    "other": _("Other"),
}

ACTION_STATUSES = {
    "open": _("Open"),
    "in_progress": _("In progress"),
    "done": _("Done"),
    "cancelled": _("Cancelled"),
}

VERDICTS = {
    "pending": _("Pending: the check period has not ended"),
    "effective": _("Effective: the rate after lies below the baseline"),
    "not_effective": _("Not (yet) effective: the rate after is not clearly below the baseline"),
    "no_data": _("No deliveries after the action: nothing to measure"),
}

# Money claimed back on a case: from whom, and in what form it comes back.
RECOVERY_PARTIES = {
    "supplier": _("Supplier"),
    "carrier": _("Carrier"),
}

RECOVERY_KINDS = {
    "refund": _("Refund"),
    "credit_note": _("Credit note"),
    "insurer": _("Insurer"),
}

LABELS["root_cause"] = ROOT_CAUSES  # for the `label` filter: a case timeline names the cause it was set to
