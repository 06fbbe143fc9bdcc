"""cub dataset plugin (not yet implemented)."""
