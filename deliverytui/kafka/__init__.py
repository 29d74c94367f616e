"""Everything that talks to Kafka: client configuration, group inspection, the embedded broker."""
