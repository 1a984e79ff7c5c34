"""Widgets of the bulkscribe screen, one idea per module."""
