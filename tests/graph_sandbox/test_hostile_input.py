"""Hostile and random input never gets a traceback, an HTML page or a 500 from the Graph sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from graph_conformance_support import IMAGE, Graph, graph_sandbox
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def g() -> Iterator[Graph]:
    with graph_sandbox() as graph:
        yield graph


SEGMENT = st.one_of(
    st.sampled_from(["me", IMAGE, "17800000000010003", "media", "comments", "replies", "insights",
                     "children", "v25.0", "access_token", "ig_hashtag_search", "..", "%00", ""]),
    st.text(alphabet="abcxyz0123456789_.-~%", min_size=1, max_size=12),
)  # fmt: skip
FIELDS = st.text(alphabet="abcdeimnorst_{},.()0123456789 ", max_size=80)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS"]),
    segments=st.lists(SEGMENT, max_size=4),
    fields=FIELDS,
    extra=st.dictionaries(
        st.sampled_from(
            [
                "limit",
                "after",
                "before",
                "since",
                "until",
                "hide",
                "message",
                "comment_enabled",
                "metric",
                "period",
                "creation_id",
                "image_url",
            ]
        ),
        st.text(max_size=30),
        max_size=4,
    ),  # fmt: skip
)
def test_random_requests_answer_json_never_500(
    g: Graph, method: str, segments: list[str], fields: str, extra: dict[str, str]
) -> None:
    path = "/" + "/".join(segments)
    params = {"fields": fields, **extra}
    response = g.session.request(
        method,
        g.url + path,
        params=params,
        headers={"Authorization": f"Bearer {g.token}"},
        timeout=10,
    )
    assert response.status_code != 500, (method, path, params, response.text)
    if method == "HEAD":
        return
    assert response.headers["Content-Type"].startswith("application/json"), (
        path,
        response.text[:200],
    )
    assert isinstance(response.json(), dict)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer " + "x" * 5000},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Content-Type": "application/json"},
        {"Content-Type": "multipart/form-data; boundary=zz"},
    ],
)
def test_odd_headers(g: Graph, headers: dict[str, str]) -> None:
    response = requests.post(
        g.url + f"/v25.0/{IMAGE}/comments", headers=headers, data=b"{not json", timeout=10
    )
    assert response.status_code in (400, 403) and "error" in response.json()
