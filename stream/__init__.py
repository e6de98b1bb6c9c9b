"""Real-time IT-ticket classification on Kafka: worker, HTTP API, notifier, sink."""
