"""ticker: a regional weather ticker service for KMA surface observations."""

__version__ = "0.1.0"
