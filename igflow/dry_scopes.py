"""Which scopes a dry run's `authorize` steps ask for: the reads' scopes, never the writes'.

On the sandbox, one token stands for one (user, client) grant and re-authorizing with more
scopes widens it (DESIGN §7). A dry run still authorizes for real, because it sends the
playbook's reads; if it asked for the write scopes too, the grant would keep them after the
rehearsal, and the real run's first `authorize` would come back already holding ``likes``: a
step that expects the permissions error would then fail. So a dry run asks only for the scopes
the playbook's reads can need (each read's ``scope`` and ``scope_if_not_owner``), plus the
profile's base scope (``basic`` in v1, ``instagram_business_basic`` in Graph: the first scope its
registry lists). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from igflow.playbook.model import Playbook


def read_scopes(playbook: Playbook, base: str = "basic") -> frozenset[str]:
    """The scopes the playbook's reads (calls that change nothing) can need, and ``base``."""
    needed = {base}
    for step in playbook.steps:
        endpoint = step.endpoint
        if endpoint is None or endpoint.mutates:
            continue
        needed.update(s for s in (endpoint.scope, endpoint.scope_if_not_owner) if s)
    return frozenset(needed)


def capped(scopes: Iterable[str], allowed: frozenset[str], base: str = "basic") -> tuple[str, ...]:
    """``scopes`` without those outside ``allowed``, in order; ``(base,)`` if none is left."""
    kept: Sequence[str] = [scope for scope in dict.fromkeys(scopes) if scope in allowed]
    return tuple(kept) or (base,)
