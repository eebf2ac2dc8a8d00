"""Loopback and in-memory fakes of Azure, shared by the cloud tests and benchmarks."""
