"""Fulfil's event contract: the envelope and one pydantic model per event type.

Shared by every service and published to shops as JSON Schema (`fulfil schemas export`).
"""
