"""The errors of the store: one family, so callers can catch "storage went wrong" in one place."""


class StoreError(Exception):
    """The database or the media folder cannot do what was asked; the message says why."""


class NotFound(StoreError):
    """A named or numbered object does not exist (any more)."""
