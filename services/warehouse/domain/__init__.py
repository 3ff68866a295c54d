"""The warehouse's pure rules: allocation, pick paths and pick lists, stock arithmetic. No I/O here."""
