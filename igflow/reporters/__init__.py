"""Reporters: how a run is shown (console) or recorded (json, junit)."""
