"""The agent: sources -> disk buffer -> sinks, one per machine."""
