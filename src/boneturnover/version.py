"""The package version, one place for every layer (the API re-exports it)."""

__version__ = "0.1.0"
