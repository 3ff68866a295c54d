"""Shared plumbing only: settings, logging, database, the worker (Kafka consumer, outbox relay, timers), inbox/outbox, dead letters."""
