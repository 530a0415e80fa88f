"""igflow as a test double in other people's test suites.

- :mod:`igflow.testing.mock`: ``igflow.mock``, which answers ``requests`` calls to the real API
  hosts from an in-process sandbox, with no socket (through requests-mock's adapter).
- :mod:`igflow.testing.served`: a sandbox served on a loopback port, for code that does not use
  requests (the ``igflow_sandbox`` fixtures).
- :mod:`igflow.testing.handle`: what a test can do with either (tokens, clients, state, clock,
  faults, the request log, datasets, reset).
- :mod:`igflow.testing.profiles`: which sandbox app and which hosts each API profile has.
- :mod:`igflow.testing.v1`, :mod:`igflow.testing.graph`: what differs per profile (the v1
  state views; Graph's tokens, accounts, apps, state views and control helpers).

The pytest plugin (:mod:`igflow.pytest_plugin`) wires these up as fixtures. Nothing here is
imported by the ``igflow`` command.
"""
