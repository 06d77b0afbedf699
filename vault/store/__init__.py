"""Storage: the on-disk format of docs/on-disk-format.md (objects, checksums, catalog, lock)."""
