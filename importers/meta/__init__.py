"""Meta exports: Facebook and Instagram, and the reader they share (mojibake, media folders, JSON members)."""
