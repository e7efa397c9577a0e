"""Staff roles and the named groups of roles that routes declare."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    HANDLER = "handler"
    WAREHOUSE = "warehouse"


# Route declarations: opt={"roles": ...}. PUBLIC routes need no login.
PUBLIC: frozenset[str] = frozenset({"public"})
STAFF: frozenset[str] = frozenset(Role)
DESK: frozenset[str] = frozenset({Role.ADMIN, Role.MANAGER, Role.HANDLER})
MANAGERS: frozenset[str] = frozenset({Role.ADMIN, Role.MANAGER})
ADMINS: frozenset[str] = frozenset({Role.ADMIN})
# Routes for a supplier or carrier holding a magic-link session; no staff role reaches them.
PARTY: frozenset[str] = frozenset({"supplier", "carrier"})
# Roles that see money and our responsibility hint (party, confidence, rule ids) on pages, the grid and
# the API alike; warehouse staff receive goods and record damage, and read neither.
CLAIM_FIGURES: frozenset[str] = DESK
