"""benchbase's built-in plugins (imported as ``benchbase_plugins``): ordinary plugins."""
