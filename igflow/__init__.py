"""igflow: a declarative, YAML-driven automation runner for the Instagram API."""

__version__ = "0.1.0"
