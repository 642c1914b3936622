"""Example applications written against `framework`."""
