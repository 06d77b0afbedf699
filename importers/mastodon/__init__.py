"""Mastodon: the ActivityPub outbox export."""
