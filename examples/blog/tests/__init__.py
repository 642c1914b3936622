"""Tests of the example blog."""
