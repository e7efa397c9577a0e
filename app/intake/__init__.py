"""Intake: a report from the dock becomes a case with its order, customer, handler and evidence."""
