"""Screens and modals of the bulkscribe app."""
