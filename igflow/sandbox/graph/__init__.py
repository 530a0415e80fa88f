"""The Graph sandbox: an emulator of the Instagram API with Instagram Login (graph.instagram.com).

One origin serves the three real hosts (www.instagram.com's authorize page, api.instagram.com's
code exchange, graph.instagram.com's API and token calls). What it emulates and what it does
not: docs/graph-sandbox.md. The interface with igflow's Graph client: graph-contract (issue 14).
"""
