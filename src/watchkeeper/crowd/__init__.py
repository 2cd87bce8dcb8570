"""Crowd safety: people counts, density and flow per zone, and crowd alerts.

Nothing here identifies anyone. A person detector finds bodies, a short-lived tracker follows
their boxes just long enough to see them cross a counting line, and only counts per zone and
minute leave the package. See docs/crowd.md.
"""
