"""Orders: intake from shops, validation with reasons, cancellations and the order state machine."""
