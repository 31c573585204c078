"""ingest: the public REST API. Commands become Kafka records; queries read the read model."""
