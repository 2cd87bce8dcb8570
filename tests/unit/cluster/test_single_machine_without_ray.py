"""One machine never imports Ray: not the command, the service, the API, nor the plan."""

import json
import subprocess
import sys

PROBE = """
import sys
import watchkeeper.cli, watchkeeper.service, watchkeeper.service.runtime, watchkeeper.api.app
import watchkeeper.cluster, watchkeeper.cluster.cli, watchkeeper.cluster.plan
import watchkeeper.cluster.buffer, watchkeeper.cluster.placement
from typer.testing import CliRunner
result = CliRunner().invoke(watchkeeper.cli.app, ["plan", "--cameras", "70", "--json"])
assert result.exit_code == 0, result.output
print(json.dumps({"ray": sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")),
                  "nodes": json.loads(result.output)["cpu"]["nodes"]}))
"""


def test_the_single_machine_modules_and_the_plan_command_import_no_ray():
    done = subprocess.run(
        [sys.executable, "-c", "import json\n" + PROBE],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"ray": [], "nodes": 3}
