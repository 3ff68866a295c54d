"""Shared plumbing only: settings, logging, database, Faust app factory, inbox/outbox, dead letters."""
