"""Built-in suites plugins."""
