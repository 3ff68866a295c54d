"""Errors the warehouse raises about its input; each message names the field and the value."""


class WarehouseError(Exception):
    """Base of every warehouse error."""


class ScanRejected(WarehouseError):
    """A scan from a staff device contradicts what the warehouse knows (it is dead-lettered with this reason)."""


class LayoutError(WarehouseError):
    """A warehouse layout file that cannot be loaded as it is."""
