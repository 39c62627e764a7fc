"""The AsyncAPI document checked on live brokers: every message relayed from the outbox and read
back with plain pika and redis-py, and the consumers fuzzed with payloads from the schemas."""
