"""A minimal script on the Python client: upload a CSV and run one of the example queries.

    cleanroom serve --data-dir data --policies policies &
    TOKEN=$(cleanroom token issue --data-dir data --collaboration acme-streamco --party acme)
    python examples/client.py --token "$TOKEN" --sql examples/queries/last_touch_attribution.sql

A refusal (a wrong token, a query the gate rejects) prints the service's message and each
violation on stderr and exits 1, as the ``cleanroom`` commands do.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cleanroom.client import ApiError, Client


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--collaboration", default="acme-streamco")
    parser.add_argument("--token", required=True)
    parser.add_argument("--upload", nargs=2, metavar=("DATASET", "FILE"))
    parser.add_argument("--sql", type=Path)
    args = parser.parse_args()
    try:
        with Client(args.url, args.token, collaboration=args.collaboration) as client:
            if args.upload:
                dataset, path = args.upload
                done = client.upload(dataset, path)
                print(f"uploaded {done.dataset}: {done.rows} rows, version {done.version}")
            if args.sql:
                answer = client.query(args.sql.read_text())
                print(json.dumps({"columns": answer.columns, "rows": answer.rows,
                                  "row_status": answer.row_status}, indent=2, default=str))
    except ApiError as exc:
        print(f"error: {exc.message} ({exc.code})", file=sys.stderr)
        for v in exc.violations:
            print(f"  - {v.rule}: {v.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
