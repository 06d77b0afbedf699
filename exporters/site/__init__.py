"""The site bundle: pages and feeds from templates, media, signed claims, the bundle writer."""
