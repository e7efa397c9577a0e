"""Staff accounts, sessions, API tokens and roles."""
