"""The web client in a real browser: Debian's Chromium driven by playwright-core (npm),
against a real node. two_users.mjs is the scenario; this module starts the node, installs
playwright-core from package-lock.json into the build tree (npm ci, once per lock) and runs
the scenario with Node, failing with its output.

Screenshots of every step: TANDEM_BROWSER_ARTIFACTS (the build tree's
test-artifacts/browser, set by tests/CMakeLists.txt).
"""
import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from tandem import FAST_ARGON2, NodeTestCase, required_env  # noqa: E402

LOCK = "package-lock.json"
CHROMIUM = "/usr/lib/chromium/chromium"   # Debian's chromium package
SCENARIO_S = 240


def install_playwright(deps_dir):
    """npm ci into deps_dir, unless it already holds this very lock's install."""
    os.makedirs(deps_dir, exist_ok=True)
    with open(os.path.join(HERE, LOCK), "rb") as f:
        lock = f.read()
    installed = os.path.join(deps_dir, "node_modules", ".package-lock.json")
    marker = os.path.join(deps_dir, LOCK)
    if os.path.exists(installed) and os.path.exists(marker):
        with open(marker, "rb") as f:
            if f.read() == lock:
                return
    for name in ("package.json", LOCK):
        shutil.copyfile(os.path.join(HERE, name), os.path.join(deps_dir, name))
    out = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                         cwd=deps_dir, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise AssertionError(f"npm ci in {deps_dir} failed ({out.returncode}):\n"
                             f"{out.stdout}\n{out.stderr}")


class WebClient(NodeTestCase):
    # Access tokens of 20 s: the clients refresh them (and re-authenticate their sockets)
    # during the scenario, which checks that they did.
    node_env = {**FAST_ARGON2, "TANDEM_AUTH_ACCESS_TTL_S": "20"}

    def test_two_users_befriend_share_and_chat_live_with_a_reconnect(self):
        deps = required_env("TANDEM_BROWSER_DEPS")
        artifacts = required_env("TANDEM_BROWSER_ARTIFACTS")
        self.assertTrue(os.access(CHROMIUM, os.X_OK),
                        f"{CHROMIUM} missing: scripts/install-deps installs Debian's chromium")
        install_playwright(deps)
        shutil.rmtree(artifacts, ignore_errors=True)
        env = {**os.environ, "TANDEM_URL": f"http://127.0.0.1:{self.node.port}/",
               "TANDEM_ARTIFACTS": artifacts, "TANDEM_CHROMIUM": CHROMIUM}
        # The scenario imports playwright-core: run it from the install so that Node finds it.
        scenario = os.path.join(deps, "two_users.mjs")
        shutil.copyfile(os.path.join(HERE, "two_users.mjs"), scenario)
        out = subprocess.run(["node", scenario], env=env, capture_output=True, text=True,
                             timeout=SCENARIO_S)
        self.assertEqual(out.returncode, 0,
                         f"the browser scenario failed (screenshots in {artifacts}):\n"
                         f"{out.stdout}\n{out.stderr}")
        self.assertIn("passed", out.stdout)


if __name__ == "__main__":
    unittest.main()
