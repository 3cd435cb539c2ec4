"""Run the conformance cases against a running server and print one line per case.

    python -m tests.conformance.run [--url http://127.0.0.1:3100] [--load] [--only PREFIX] [-v]

`--load` pushes the corpus first (into an empty server). The pytest suite does the same against its
own server process; this is the quick loop for working on the engine.
"""

from __future__ import annotations

import argparse
import json

import httpx

from tests.conformance.test_conformance import CASES, KNOWN_DIFFERENCES, check
from tests.support.corpus import load_corpus


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:3100")
    ap.add_argument("--load", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    if args.load:
        load_corpus(args.url)
        httpx.post(args.url + "/flush", timeout=120)
    ok = bad = differ = 0
    with httpx.Client(base_url=args.url, timeout=120) as client:
        for path in CASES:
            case = json.loads(path.read_text())
            if not case["id"].startswith(args.only):
                continue
            diff = check(client, case)
            if diff is None:
                ok += 1
                if args.v:
                    print(f"ok   {case['id']}")
            elif case["id"] in KNOWN_DIFFERENCES:
                differ += 1
                print(f"DIFF {case['id']} (on purpose, see known_differences.txt)")
            else:
                bad += 1
                print(f"FAIL {case['id']}: {case['request'].get('params', {}).get('query', '')}\n     {diff[:600]}")
    print(f"conformance: {ok} passed, {bad} failed, {differ} differ on purpose")


if __name__ == "__main__":
    main()
