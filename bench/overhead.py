"""Per-step overhead: a 400-request chain run by igflow and by a plain requests.Session loop.

The chain, 200 times over: get a media object by its shortcode, extract its id and like count,
assert the count, then list its likes using the extracted id and assert one liker per like. The
server is Debian's nginx serving fixed JSON files on a loopback port (started and stopped here),
so the server's share of the wall time is as small as it gets and the difference between the two
walls is what igflow adds: startup, reading and checking the playbook, templating, extraction,
assertions, error handling and the console report.

Both sides run as whole processes under hyperfine (the user's view: ``igflow run`` against
``python plain_loop.py``). Budget: igflow at most 1.3x the plain loop.

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
    arguments,
    finish,
    free_port,
    hyperfine,
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


def write_playbook(path: Path, origin: str, expected: list[list[Any]]) -> None:
    """The chain as a playbook: two steps per media, each with its own extracted names."""
    lines = [
        "igflow: 1",
        "name: Overhead benchmark chain",
        f"target: {origin}",
        "steps:",
        f'  - authorize: {{scopes: [basic, public_content], token: "{TOKEN}"}}',
    ]
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
worker_processes 1;
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
        # nginx's workers run as an unprivileged user when started as root: let them read.
        os.chmod(tmp, 0o755)
        root = tmp / "www"
        expected = write_fixture(root, args.pairs)
        (tmp / "expected.json").write_text(json.dumps(expected))
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, root=root))
        playbook = tmp / "chain.yml"
        write_playbook(playbook, origin, expected)

        igflow_cmd = [igflow, "run", str(playbook)]
        plain_cmd = [python, str(BENCH_DIR / "overhead_plain.py"), origin, TOKEN]
        plain_cmd.append(str(tmp / "expected.json"))
        with server([nginx, "-p", str(tmp), "-c", str(conf)], port, log=tmp / "nginx.out"):
            # Both sides must succeed (every check passes) before either is timed.
            run_checked(igflow_cmd)
            run_checked(plain_cmd)
            igflow_t, plain_t = hyperfine(
                [igflow_cmd, plain_cmd],
                runs=args.runs,
                warmup=2,
                names=["igflow run", "requests loop"],
            )

    requests_sent = 2 * args.pairs
    ratio = igflow_t["median"] / plain_t["median"]
    per_request = (igflow_t["median"] - plain_t["median"]) / requests_sent
    details = table(
        ("command", "median", "mean ± sd", "min"),
        [
            (
                name,
                ms(t["median"]),
                f"{ms(t['mean'])} ± {ms(t['stddev'])}",
                ms(t["min"]),
            )
            for name, t in (("igflow run", igflow_t), ("requests loop", plain_t))
        ],
    )
    details += f"\n{requests_sent} requests; igflow adds {per_request * 1e6:.0f} µs per request\n"
    figures = (
        f"igflow {ms(igflow_t['median'])} / loop {ms(plain_t['median'])} = {ratio:.2f}x "
        f"({requests_sent} req)"
    )
    finish(args, [row("1. per-step overhead", figures, f"<= {BUDGET}x", ratio <= BUDGET)], details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
