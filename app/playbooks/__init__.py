"""Each supplier's and carrier's own claim rules (playbooks), applied to a case before it is sent."""
