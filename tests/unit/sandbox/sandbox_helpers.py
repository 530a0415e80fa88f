"""Helpers shared by the sandbox content tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

from igflow.sandbox.contract import Viewer
from igflow.sandbox.dataset import read_dataset

GRANT = "3657782666"
MAYA = "4021937711"
TOM = "4102558320"
PETE = "4466120390"
ROSA = "4523871145"
CITY = "4600937512"
FOODIE = "1811437290"
SEED_PK = 1667121369441597934
SEED_MEDIA = "1667121369441597934_3657782666"
ALL_SCOPES = frozenset(
    {"basic", "public_content", "follower_list", "comments", "relationships", "likes"}
)
SANDBOX_USERS = frozenset(read_dataset(None)["clients"][0]["sandbox_users"])
NOW = 1_530_000_000.0


def viewer(
    user_id: str = GRANT,
    *,
    scopes: frozenset[str] = ALL_SCOPES,
    live: bool = False,
    client_id: str = "4c56a5eb5799895875d6739ca91b9cdb",
) -> Viewer:
    return Viewer(
        user_id=user_id,
        client_id=client_id,
        scopes=scopes,
        client_mode="live" if live else "sandbox",
        sandbox_users=None if live else SANDBOX_USERS,
    )
