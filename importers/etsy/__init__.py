"""Etsy: the reviews file of the data export."""
