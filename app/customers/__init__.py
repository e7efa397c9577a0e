"""The customer's own acts on their case: opening the tracking link, feedback that may reopen the case."""
