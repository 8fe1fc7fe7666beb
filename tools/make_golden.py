"""Rebuild tests/golden_complexity.json: exact counts of every preset (run only on purpose).

The golden file pins the analytic counter so that a refactor cannot silently change a number.
Usage: python tools/make_golden.py
"""

import json
from pathlib import Path

from pycls_like.complexity import complexity
from pycls_like.presets import PRESETS

if __name__ == "__main__":
    golden = {name: complexity(spec).as_dict() for name, spec in PRESETS.items()}
    path = Path(__file__).resolve().parent.parent / "tests" / "golden_complexity.json"
    path.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {len(golden)} presets to {path}")
