"""After-sales cases, their numbers, nodes and timeline."""
