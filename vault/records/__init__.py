"""Reading and curating records: filters and lookup, visibility and tags, plaintext take-out."""
