"""Accountability: what may be kept and for how long, who may do what, and a tamper-evident
record of every sensitive action (``policy.audit``), written in the same transaction as the
action itself."""
