"""Local HTTP servers used by the tests."""
