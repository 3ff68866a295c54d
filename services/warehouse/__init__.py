"""The warehouse service (see ARCHITECTURE.md); built in its own issue."""
