"""X (Twitter): the archive's JavaScript data files."""
