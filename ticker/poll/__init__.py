"""The poll side: scheduler -> poller -> source -> QC -> store, under a lease in Redis.

Never imports the web side.
"""
