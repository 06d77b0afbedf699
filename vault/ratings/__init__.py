"""Ratings: reputation summaries and the merging of one rating seen in several captures."""
