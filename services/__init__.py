"""Fulfil's stream-processing services and their shared plumbing (services.common)."""
