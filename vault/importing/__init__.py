"""The import pipeline: archive readers, media facts, scraping, and the pipeline that dedups, encrypts and commits."""
