"""The routing service (see ARCHITECTURE.md); built in its own issue."""
