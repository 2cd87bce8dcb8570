"""Watchkeeper: accountable live facial recognition against purpose-bound watchlists."""

__version__ = "0.1.0"
