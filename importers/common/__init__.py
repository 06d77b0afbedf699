"""Helpers every importer may use: bounded member readers and candidate probing."""
