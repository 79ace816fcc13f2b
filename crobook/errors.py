"""Errors the command line reports as plain messages."""


class BuildError(Exception):
    """A build step failed; the message says which and why (no traceback for the reader)."""
