"""Widgets render snapshots; they never call Kafka or a store."""
