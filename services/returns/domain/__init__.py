"""Returns' pure rules: who may return what, and how much comes back to the customer."""
