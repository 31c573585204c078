"""Common code of the docstream services: events, topics, settings, Kafka, MongoDB, blobs."""
