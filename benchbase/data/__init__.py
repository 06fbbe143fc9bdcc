"""Dataset files on disk: downloads of the official archives and image checks."""
