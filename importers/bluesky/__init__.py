"""Bluesky: repository CAR exports, read with a small DAG-CBOR decoder."""
