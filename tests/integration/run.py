"""Runs every tests/integration/test_*.py (or those named on the command line) with unittest
and writes the counts to the file given by --counts (JSON: passed, failed, skipped)."""
import argparse
import json
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

ap = argparse.ArgumentParser()
ap.add_argument("--counts")
ap.add_argument("patterns", nargs="*", help="test module names, e.g. test_datagram")
args = ap.parse_args()

loader = unittest.TestLoader()
if args.patterns:
    suite = unittest.TestSuite(loader.loadTestsFromName(p) for p in args.patterns)
else:
    suite = loader.discover(here, pattern="test_*.py", top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
# A test marked expectedFailure documents a known bug: it is not a pass. It is counted with
# the skipped ones, and listed so that nobody forgets it.
known_bugs = len(result.expectedFailures)
skipped = len(result.skipped) + known_bugs
passed = result.testsRun - failed - skipped
for test, _ in result.expectedFailures:
    print("known bug (expected failure, not counted as passed): %s" % test.id())
if args.counts:
    with open(args.counts, "w") as f:
        json.dump({"passed": passed, "failed": failed, "skipped": skipped}, f)
sys.exit(0 if failed == 0 else 1)
