"""The benchmark harness (scripts/bench/run) still works: a tiny flatstore scenario, the script
loop alone and the flatstore bound, through the real evid, with the raw baselines, produce the
Markdown table and the JSON results. Numbers are not checked (no performance assertion in tests): only that every
event arrived and the outputs have their shape."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import evitest

RUN = os.path.join(evitest.REPO, "scripts", "bench", "run")


class BenchSmoke(unittest.TestCase):
    def test_a_quick_flatstore_run_writes_a_table_and_json_with_no_event_lost(self):
        out = tempfile.mkdtemp(prefix="evi-bench-smoke-")
        self.addCleanup(shutil.rmtree, out, True)
        p = subprocess.run(
            [sys.executable, RUN, "--quick", "--no-build", "--build", evitest.BUILD,
             "--only", "script_only,flatstore,flatstore_bound", "--events", "3000", "--out", out],
            capture_output=True, text=True, timeout=55)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        with open(os.path.join(out, "results.json")) as f:
            res = json.load(f)
        flat = res["scenarios"]["flatstore"]
        self.assertEqual(flat["runs"][0]["delivered"], 3000)
        self.assertEqual(flat["lost"]["max"], 0)
        self.assertGreater(flat["events_per_s"]["median"], 0)
        self.assertGreater(flat["baseline_events_per_s"]["median"], 0)
        self.assertIn("script_only", res["scenarios"])
        with open(os.path.join(out, "results.md")) as f:
            md = f.read()
        self.assertIn("| flatstore |", md)
        self.assertIn("raw write() per line", md)
        # The bound is the sum of its two measured parts, and the evid run in it lost nothing.
        b = res["flatstore_bound"]
        run = b["runs"][0]["us_per_event"]
        self.assertAlmostEqual(run["bound"], run["script"] + run["threaded_pwrite"], places=9)
        self.assertGreater(run["raw"], 0)
        self.assertGreater(run["script"], 0)
        self.assertEqual(b["lost"]["max"], 0)
        self.assertIn("## What bounds inline flatstore", md)


if __name__ == "__main__":
    unittest.main()
