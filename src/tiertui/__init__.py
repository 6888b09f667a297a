"""tiertui: partner levelling (tiering) programs for channel managers, in the terminal."""

__version__ = "0.1.0"
