"""A minimal client of a running service: upload a CSV and run one of the example queries.

    cleanroom serve --data-dir data --policies policies &
    TOKEN=$(cleanroom token issue --data-dir data --collaboration acme-streamco --party acme)
    python examples/client.py --token "$TOKEN" --sql examples/queries/last_touch_attribution.sql
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import httpx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--collaboration", default="acme-streamco")
    parser.add_argument("--token", required=True)
    parser.add_argument("--upload", nargs=2, metavar=("DATASET", "CSV"))
    parser.add_argument("--sql", type=Path)
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.token}"}
    base = f"{args.url}/v1/collaborations/{args.collaboration}"
    with httpx.Client(headers=headers, timeout=120) as client:
        if args.upload:
            dataset, path = args.upload
            response = client.put(f"{base}/datasets/{dataset}", content=Path(path).read_bytes(),
                                  headers={"Content-Type": "text/csv"})
            print(json.dumps(response.json(), indent=2))
        if args.sql:
            response = client.post(f"{base}/queries", json={"sql": args.sql.read_text()})
            print(json.dumps(response.json(), indent=2))


if __name__ == "__main__":
    main()
