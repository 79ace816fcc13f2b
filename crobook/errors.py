"""Errors the command line reports as plain messages."""


class BuildError(Exception):
    """A build step failed; the message says which and why (no traceback for the reader).

    `site_untouched` is False when the failure came after the edition was published (the message says what).
    """

    def __init__(self, message: str, site_untouched: bool = True):
        super().__init__(message)
        self.site_untouched = site_untouched
