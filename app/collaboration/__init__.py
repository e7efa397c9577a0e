"""Working on a case with suppliers, carriers and customers through magic links."""
