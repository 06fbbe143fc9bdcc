"""mit67 dataset plugin (not yet implemented)."""
