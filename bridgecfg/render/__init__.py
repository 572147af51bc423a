"""Rendering: the quoting step and the jinja2 templates."""
