"""snoopipe: a Reddit data pipeline from API and dumps to a validated warehouse."""

__version__ = "0.1.0"
