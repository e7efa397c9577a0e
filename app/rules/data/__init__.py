"""Rule files and holiday calendars shipped with the engine (a package so that they install)."""
