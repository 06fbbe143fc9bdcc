"""caltech dataset plugin (not yet implemented)."""
