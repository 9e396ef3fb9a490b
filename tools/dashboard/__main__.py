"""Write the dashboard JSON into the chart: ``python -m tools.dashboard [--out PATH]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .build import CHART_FILE, render


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=CHART_FILE, help="default: %(default)s")
    args = parser.parse_args()
    args.out.write_text(render())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
