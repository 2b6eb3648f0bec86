"""Netzwerktimer: gathers the events of many networks into one merged calendar."""

__version__ = "0.1.0"
