"""Scenario files: the pydantic schema, the YAML loader with located errors, built-in scenarios."""
