"""``python -m vault`` runs the command line."""

from vault.cli import run

run()
