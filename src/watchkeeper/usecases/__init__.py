"""The use cases: one module per thing a user can do that changes state.

Each owns its transaction, its audit record and its media work, once; the CLI, the HTTP API,
the console and the demos call it and only translate arguments and results. A rule change
then happens in one place and every door behaves the same. ``runtime`` declares what a live
runtime (one machine or Ray) provides to the API.
"""
