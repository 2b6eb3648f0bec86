"""Exporters: turn stored events into what people subscribe to or read."""
