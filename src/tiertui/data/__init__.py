"""Data files shipped with tiertui (the demo program)."""
