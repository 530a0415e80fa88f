#!/usr/bin/env python
"""Regenerate the registry enums in schemas/playbook.schema.json (see igflow.registry.schema_enums).

python scripts/gen_schema_enums.py          # rewrite the schema
python scripts/gen_schema_enums.py --check  # exit 1 if it is out of step
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from igflow.registry.schema_enums import generated_schema, schema_text  # noqa: E402


def main() -> int:
    path = ROOT / "schemas" / "playbook.schema.json"
    current = path.read_text(encoding="utf-8")
    wanted = schema_text(generated_schema(json.loads(current)))
    if "--check" in sys.argv[1:]:
        if current != wanted:
            print(f"{path} is out of step with the registry: run {sys.argv[0]}", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        path.write_text(wanted, encoding="utf-8")
        print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
