"""`fulfil demo`: a generated city and a simulator that plays the shops, warehouse staff, drivers and customers
against the real services, through Kafka, then reports what happened."""
