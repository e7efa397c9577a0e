"""After-sales rates, root causes, corrective actions and recovered money."""
