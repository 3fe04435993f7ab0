"""cleanroom: a privacy-preserving data clean room for marketing measurement."""
__version__ = "0.1.0"
