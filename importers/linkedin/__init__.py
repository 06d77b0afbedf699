"""LinkedIn: the data export's CSV files."""
