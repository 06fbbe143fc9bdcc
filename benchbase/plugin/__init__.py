"""The plugin manager and the name registries it fills."""
