"""Helpers shared by the test suites: free ports and subprocesses that are always stopped."""
