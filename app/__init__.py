"""Crossclaim: after-sales case management for companies that import goods."""
