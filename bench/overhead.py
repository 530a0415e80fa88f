"""Per-step overhead: a 400-request chain run by igflow and by a plain requests.Session loop.

The chain, 200 times over: get a media object by its shortcode, extract its id and like count,
assert the count, then list its likes using the extracted id and assert one liker per like. The
server is Debian's nginx serving fixed JSON files on a loopback port (started and stopped here),
so the server's share of the wall time is as small as it gets and the difference between the two
walls is what igflow adds: startup, reading and checking the playbook, templating, extraction,
assertions, error handling and the console report.

The chain is written two ways: as 400 steps (two per media, each with its own names: what a
long hand-written playbook costs, its checking included) and as two ``foreach`` steps of 200
items (the same requests and checks: what igflow adds per item). The plain loop does the same
requests in the same order for each. Both sides run as whole processes (the user's view:
``igflow run`` against ``python plain_loop.py``), timed by turns (``_common.alternate``: on a
shared machine a busy minute then lands on every command alike), medians of 10 runs. Both loops
also run over twice the media, so that what one more request costs each side is measured apart
from the fixed costs of starting and checking. Budget: igflow at most 1.3x the plain loop.

    python bench/overhead.py [--pairs 200] [--runs 10] [--json FILE]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    BENCH_DIR,
    alternate,
    arguments,
    finish,
    free_port,
    igflow_exe,
    ms,
    need,
    python_exe,
    row,
    run_checked,
    server,
    table,
)

BUDGET = 1.3
STEPS, PLAIN = "igflow run (steps)", "requests loop"
LOOPS, PLAIN_PHASED = "igflow run (foreach)", "requests loop (same order)"
LONG_LOOPS, LONG_PLAIN = "igflow run (foreach, 2x)", "requests loop (same order, 2x)"
OWNER = {
    "id": "3657782666",
    "username": "grantwinney",
    "full_name": "Grant",
    "profile_picture": "https://instagram.fymy1-2.fna.fbcdn.net/t51.2885-19/11906329_n.jpg",
}
TOKEN = "3657782666.4c56a5e.46b64f8eca0fffccb70a33b4adbdb272"


def _user(n: int) -> dict[str, str]:
    return {
        "id": str(4000000000 + n),
        "username": f"liker{n}",
        "full_name": f"Liker {n}",
        "profile_picture": f"https://scontent.cdninstagram.com/t51.2885-19/{n}_a.jpg",
    }


def _media(index: int, shortcode: str, likes: int) -> dict[str, Any]:
    """A media object shaped like the sandbox's (and the real API's) answer."""
    image = "https://scontent.cdninstagram.com/t51.2885-15/{size}/e35/{n}_n.jpg"
    created = str(1512956375 + index * 3600)
    return {
        "id": f"{1667121369441597934 + index}_{OWNER['id']}",
        "user": OWNER,
        "images": {
            name: {"width": side, "height": side, "url": image.format(size=f"s{side}", n=index)}
            for name, side in (
                ("thumbnail", 150),
                ("low_resolution", 320),
                ("standard_resolution", 640),
            )
        },
        "created_time": created,
        "caption": {
            "id": str(17899911943100617 + index),
            "text": f"Benchmark photo number {index}",
            "created_time": created,
            "from": OWNER,
        },
        "user_has_liked": False,
        "likes": {"count": likes},
        "tags": [],
        "filter": "Normal",
        "comments": {"count": 0},
        "type": "image",
        "link": f"https://www.instagram.com/p/{shortcode}/",
        "location": None,
        "attribution": None,
        "users_in_photo": [],
    }


def write_fixture(root: Path, pairs: int) -> list[list[Any]]:
    """Write the JSON files nginx serves; return ``[[shortcode, like count], ...]``."""
    expected: list[list[Any]] = []
    for i in range(pairs):
        shortcode = f"Bb{i:09d}"
        count = 1 + i % 5
        media = _media(i, shortcode, count)
        by_code = root / "v1" / "media" / "shortcode" / shortcode
        likes = root / "v1" / "media" / media["id"] / "likes"
        for path, data in (
            (by_code, media),
            (likes, [_user(i * 10 + k) for k in range(count)]),
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"meta": {"code": 200}, "data": data}))
        expected.append([shortcode, count])
    return expected


def _head(name: str, origin: str) -> list[str]:
    return ["igflow: 1", f"name: {name}", f"target: {origin}"]


_AUTHORIZE = f'  - authorize: {{scopes: [basic, public_content], token: "{TOKEN}"}}'


def write_loop_playbook(path: Path, origin: str, expected: list[list[Any]]) -> None:
    """The chain as two foreach steps: every media by shortcode, then every list of likes."""
    lines = _head("Overhead benchmark chain, as loops", origin) + ["vars:", "  chain:"]
    lines += [f"    - [{shortcode}, {count}]" for shortcode, count in expected]
    lines += [
        "steps:",
        _AUTHORIZE,
        '  - foreach: "{{ chain }}"',
        "    as: pair",
        "    call: media.shortcode",
        '    with: {shortcode: "{{ pair[0] }}"}',
        "    extract: {media_ids: $.data.id, likes: $.data.likes.count}",
        '    assert: ["likes == pair[1]"]',
        '  - foreach: "{{ media_ids }}"',
        "    as: media_id",
        "    call: likes.list",
        '    with: {media_id: "{{ media_id }}"}',
        "    extract: {likers: '$.data[*].username'}",
        '    assert: ["likers | length == likes[loop.index0]"]',
    ]
    path.write_text("\n".join(lines) + "\n")


def write_playbook(path: Path, origin: str, expected: list[list[Any]]) -> None:
    """The chain as a playbook: two steps per media, each with its own extracted names."""
    lines = _head("Overhead benchmark chain", origin) + ["steps:", _AUTHORIZE]
    for i, (shortcode, count) in enumerate(expected):
        lines += [
            "  - call: media.shortcode",
            f"    with: {{shortcode: {shortcode}}}",
            f"    extract: {{media_id_{i}: $.data.id, likes_{i}: $.data.likes.count}}",
            f"    assert: [likes_{i} == {count}]",
            "  - call: likes.list",
            f'    with: {{media_id: "{{{{ media_id_{i} }}}}"}}',
            f"    extract: {{likers_{i}: '$.data[*].username'}}",
            f"    assert: [likers_{i} | length == likes_{i}]",
        ]
    path.write_text("\n".join(lines) + "\n")


NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    default_type application/json;
    charset utf-8;
    charset_types application/json;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ try_files $uri =404; }}
    }}
}}
"""


def main() -> int:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200, help="chain length / 2 (default 200)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each side")
    args = parser.parse_args()
    nginx = need("nginx", "nginx")
    python, igflow = python_exe(), igflow_exe()

    with tempfile.TemporaryDirectory(prefix="igflow-bench-overhead-") as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "www"
        # Twice the media: the longer loop (below) measures what one more request costs.
        everything = write_fixture(root, 2 * args.pairs)
        expected = everything[: args.pairs]
        (tmp / "expected.json").write_text(json.dumps(expected))
        (tmp / "expected-long.json").write_text(json.dumps(everything))
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        conf = tmp / "nginx.conf"
        # As root, nginx hands its workers to an unprivileged user, who may not be able to reach
        # a temporary directory (TMPDIR under /root): keep them root, they only read files.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, root=root))
        playbook, loops, long_loops = tmp / "chain.yml", tmp / "loops.yml", tmp / "loops-long.yml"
        write_playbook(playbook, origin, expected)
        write_loop_playbook(loops, origin, expected)
        write_loop_playbook(long_loops, origin, everything)

        plain = [python, str(BENCH_DIR / "overhead_plain.py"), origin, TOKEN]
        commands = {
            STEPS: [igflow, "run", str(playbook)],
            PLAIN: [*plain, str(tmp / "expected.json")],
            LOOPS: [igflow, "run", str(loops)],
            PLAIN_PHASED: [*plain, str(tmp / "expected.json"), "--phased"],
            LONG_LOOPS: [igflow, "run", str(long_loops)],
            LONG_PLAIN: [*plain, str(tmp / "expected-long.json"), "--phased"],
        }
        with server([nginx, "-p", str(tmp), "-c", str(conf)], port, log=tmp / "nginx.out"):
            # Every side must succeed (every check passes) before any is timed.
            for command in commands.values():
                run_checked(command)
            measured = alternate(list(commands.values()), runs=args.runs, warmup=1)
            timings = dict(zip(commands, measured, strict=True))

    sent = 2 * args.pairs
    details = table(
        ("command", "requests", "median", "mean ± sd", "min"),
        [
            (
                name,
                str(2 * sent if name in (LONG_LOOPS, LONG_PLAIN) else sent),
                ms(t["median"]),
                f"{ms(t['mean'])} ± {ms(t['stddev'])}",
                ms(t["min"]),
            )
            for name, t in timings.items()
        ],
    )
    median = {name: t["median"] for name, t in timings.items()}
    rows = []
    for label, mine, theirs in (
        (f"{sent} steps", STEPS, PLAIN),
        (f"2 foreach x {args.pairs}", LOOPS, PLAIN_PHASED),
    ):
        ratio = median[mine] / median[theirs]
        figures = f"igflow {ms(median[mine])} / loop {ms(median[theirs])} = {ratio:.2f}x"
        rows.append(row(f"1. overhead: {label}", figures, f"<= {BUDGET}x", ratio <= BUDGET))
    # What one more request costs each side, start-up and checking left out: the difference
    # between the loops of 2x and 1x the media, per added request.
    igflow_each = (median[LONG_LOOPS] - median[LOOPS]) / sent
    plain_each = (median[LONG_PLAIN] - median[PLAIN_PHASED]) / sent
    ratio = igflow_each / plain_each
    figures = f"igflow {igflow_each * 1e6:.0f} µs / loop {plain_each * 1e6:.0f} µs = {ratio:.2f}x"
    rows.append(row("1. overhead: each more request", figures, f"<= {BUDGET}x", ratio <= BUDGET))
    details += (
        f"\nfixed costs (run minus requests at the marginal rate): "
        f"igflow {ms(median[LOOPS] - sent * igflow_each)}, "
        f"loop {ms(median[PLAIN_PHASED] - sent * plain_each)}\n"
    )
    finish(args, rows, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
