"""Modal screens: help, group picker (and reset, when writes are allowed)."""
