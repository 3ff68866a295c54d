"""Routing's pure rules: the delivery problem, its integer model for a solver, and reading a plan back."""
