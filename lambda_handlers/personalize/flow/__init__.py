"""The event-driven import flow's Lambda steps, run by the import state machine (docs/event-imports.md)."""
