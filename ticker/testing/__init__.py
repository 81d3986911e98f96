"""Test tooling, shipped so that tests, benchmarks and demos can import it: not used by the service.

- ``fake_upstream``: a fake KMA API Hub, a real aiohttp app serving the real wire formats with
  scriptable faults (``python -m ticker.testing.fake_upstream --port 8081 --key demo``).
- ``payloads``: the rows, answers and error bodies it serves.
- ``rows``: the writer half of the ``kma_sfctm2`` text format.
"""
