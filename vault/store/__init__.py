"""Storage: the on-disk format of DESIGN.md section 4 (objects, checksums, catalog, lock)."""
