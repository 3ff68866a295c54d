class OrdersError(Exception):
    """Base of every error the orders domain raises."""


class IllegalTransition(OrdersError):
    """An event asked for a status change the state machine does not allow from the current status."""
