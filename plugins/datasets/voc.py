"""voc dataset plugin (not yet implemented)."""
