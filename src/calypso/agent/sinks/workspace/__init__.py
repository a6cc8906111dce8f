"""The workspace sink: delivers buffered batches to one workspace over the agent path."""
