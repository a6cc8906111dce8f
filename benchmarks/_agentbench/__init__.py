"""Helpers of `benchmarks/agent_throughput.py`: counting sinks, process sampling, the contenders."""
