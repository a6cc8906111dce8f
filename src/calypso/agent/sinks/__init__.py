"""Sinks: where buffered batches go. Each reads the disk buffer through its own named cursor."""
