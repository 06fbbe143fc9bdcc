"""sun397 dataset plugin (not yet implemented)."""
