"""The fan-out benchmark: load generator, reference relays and the orchestrator (issue 3)."""
