"""Local runs as records: each run's `run.json`, its static page, and `amlctl runs`.

The executor writes a record when a run ends (``record``); ``page`` renders it as a page
that opens without a server; ``command`` lists and compares records. Nothing here imports
the runner: a record is plain JSON.
"""
