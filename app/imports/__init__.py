"""Bringing spreadsheets in: purchase order lines and legacy after-sales ledgers."""
