"""A plain folder of photos and videos (a camera roll)."""
