"""eBay: data-request CSVs, API XML/JSON, saved and captured feedback pages."""
