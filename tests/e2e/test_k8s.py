"""The Kubernetes manifests of deploy/k8s: valid against the Kubernetes API's schemas
(tests/tools/k8s/validate, kubernetes-models from npm), shown to catch a wrong type, and
holding what an operator relies on: probes on /readyz and /healthz, resources, a non-root
read-only container, WebSocket timeouts at the ingress, a budget for disruptions, an
autoscaler, and a backup CronJob running scripts/backup's image. Needs no node.
"""
import glob
import os
import subprocess
import tempfile
import unittest

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(REPO, "deploy", "k8s")
VALIDATOR = os.path.join(REPO, "tests", "tools", "k8s", "validate")


def validate(*files):
    return subprocess.run([VALIDATOR, *files], capture_output=True, text=True, timeout=300)


def manifests():
    """{kind: [object, ...]} of every document in deploy/k8s."""
    found = {}
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        with open(path) as f:
            for obj in yaml.safe_load_all(f):
                if obj:
                    found.setdefault(obj["kind"], []).append(obj)
    return found


class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = manifests()

    def one(self, kind):
        self.assertEqual(len(self.objects.get(kind, [])), 1, f"one {kind} expected")
        return self.objects[kind][0]

    def test_every_manifest_is_valid_against_the_kubernetes_schemas(self):
        files = sorted(glob.glob(os.path.join(K8S, "*.yaml")))
        out = validate(*files)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(out.stdout.count("valid: "), sum(len(v) for v in self.objects.values()), out.stdout)

    def test_the_validator_catches_a_wrong_type_and_an_unknown_kind(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.yaml")
            with open(bad, "w") as f:
                f.write("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
                        "spec: {replicas: two, selector: {}, template: {spec: {containers: []}}}\n"
                        "---\napiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: y}\n")
            out = validate(bad)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("replicas must be integer", out.stdout)
        self.assertIn("unknown apiVersion/kind example.com/v1/Gadget", out.stdout)

    def test_the_nodes_are_probed_bounded_and_unprivileged(self):
        deployment = self.one("Deployment")
        pod = deployment["spec"]["template"]["spec"]
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(pod["securityContext"]["runAsUser"], 0)
        node = next(c for c in pod["containers"] if c["name"] == "tandem")
        self.assertEqual(node["readinessProbe"]["httpGet"]["path"], "/readyz")
        self.assertEqual(node["livenessProbe"]["httpGet"]["path"], "/healthz")
        for container in pod["containers"] + pod.get("initContainers", []):
            self.assertTrue(container["securityContext"]["readOnlyRootFilesystem"], container["name"])
            self.assertFalse(container["securityContext"]["allowPrivilegeEscalation"], container["name"])
            self.assertIn("memory", container["resources"]["limits"], container["name"])
            self.assertIn("cpu", container["resources"]["requests"], container["name"])
        self.assertIn("--cluster.node_id=$(POD_NAME)", node["args"])
        config = self.one("ConfigMap")["data"]
        self.assertEqual(config["TANDEM_NODE_MODE"], "production")
        self.assertEqual(config["TANDEM_CLUSTER_ENABLED"], "true")

    def test_the_ingress_keeps_websockets_open_and_terminates_tls(self):
        ingress = self.one("Ingress")
        notes = ingress["metadata"]["annotations"]
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            self.assertGreaterEqual(int(notes["nginx.ingress.kubernetes.io/" + key]), 3600)
        self.assertTrue(ingress["spec"]["tls"][0]["secretName"])

    def test_disruptions_scaling_and_backups_are_covered(self):
        selector = self.one("Deployment")["spec"]["selector"]["matchLabels"]
        self.assertEqual(self.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"], selector)
        self.assertEqual(self.one("Service")["spec"]["selector"], selector)
        hpa = self.one("HorizontalPodAutoscaler")["spec"]
        self.assertEqual(hpa["scaleTargetRef"]["name"], self.one("Deployment")["metadata"]["name"])
        self.assertGreaterEqual(hpa["minReplicas"], 2)
        job = self.one("CronJob")["spec"]
        self.assertEqual(job["concurrencyPolicy"], "Forbid")
        backup = job["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"] for e in backup["env"]}
        self.assertLessEqual({"TANDEM_DB_DSN", "TANDEM_BACKUP_REMOTE", "TANDEM_BACKUP_RETENTION_DAYS"}, env)
        secret = self.one("Secret")
        for key in ("jwt_key", "url_key", "db_dsn"):
            self.assertIn("REPLACE", secret["stringData"][key], "the example must hold no real secret")
