"""The web side: routes, the in-process snapshot, pre-rendered answers, ops routes, the fast path.

Reads Redis only through ``ticker.store``; never imports the poll side.
"""
