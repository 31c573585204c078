"""webhooks: POSTs signed notices of finished documents to the endpoints their owners registered."""
