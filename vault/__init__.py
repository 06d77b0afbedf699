"""vault: a personal data vault stored as age-encrypted files.

The API for importer and exporter plugins is ``vault.plugin_api``; everything else is
internal and may change.
"""

__version__ = "0.2.0"

__all__ = ["__version__"]
