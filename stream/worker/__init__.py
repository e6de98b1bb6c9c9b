"""The Faust worker: tickets.raw → tickets.classified (+ tickets.dlq)."""
