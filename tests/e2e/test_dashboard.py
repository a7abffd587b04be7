"""The Grafana dashboard (deploy/grafana/tandem.json) against a real node: every metric a
panel or variable queries is on the node's /metrics after a little traffic, and every label a
query groups by or filters on is one that metric carries, so that the dashboard cannot rot
when a metric is renamed or dropped. The check itself is shown to catch a missing metric.
"""
import json
import os
import re

from tandem import NodeTestCase

DASHBOARD = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "grafana", "tandem.json")
METRIC = re.compile(r"\btandem_[a-z_]+\b")
SAMPLE = re.compile(r"^([a-z_]+)(?:\{(.*)\})? \S+$")
LABEL = re.compile(r'([a-z_]+)="')
# Labels every series has once Prometheus scrapes it, and the histogram's bucket bound.
SCRAPE_LABELS = {"instance", "job", "le"}


def queries(dashboard):
    """Every PromQL expression of the dashboard: panel targets and query variables."""
    found = []
    for panel in dashboard["panels"]:
        found += [t["expr"] for t in panel.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            found.append(var["definition"])
    return found


def labels_used(expr):
    """{metric: labels} an expression selects on ({a="..."}) or groups by (by (a, b))."""
    used = {}
    for m in re.finditer(r"(tandem_[a-z_]+)\{([^}]*)\}", expr):
        used.setdefault(m.group(1), set()).update(re.findall(r"([a-z_]+)\s*=~?", m.group(2)))
    for m in re.finditer(r"by \(([^)]*)\)\s*\(([^()]*\(?[^()]*)", expr):
        for metric in METRIC.findall(m.group(2)):
            used.setdefault(metric, set()).update(l.strip() for l in m.group(1).split(","))
    return used


def problems(dashboard, exposition):
    """What the dashboard queries that the exposition lacks, as sentences (empty: none)."""
    series = {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            series.setdefault(line.split(" ")[2], set())
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            if m:
                series.setdefault(m.group(1), set()).update(LABEL.findall(m.group(2) or ""))
    found = []
    for expr in queries(dashboard):
        for metric in METRIC.findall(expr):
            if metric not in series:
                found.append(f"{metric} (in {expr}) is not on /metrics")
        for metric, labels in labels_used(expr).items():
            missing = labels - series.get(metric, set()) - SCRAPE_LABELS
            if metric in series and missing:
                found.append(f"{metric} has no label {sorted(missing)} (in {expr})")
    return found


class Dashboard(NodeTestCase):
    def setUp(self):
        with open(DASHBOARD) as f:
            self.dashboard = json.load(f)
        # Traffic, so that the per-route request families have samples.
        for path in ("/healthz", "/readyz", "/no-such-route"):
            self.node.request("GET", path)
        status, _, self.exposition = self.node.request("GET", "/metrics")
        self.assertEqual(status, 200, self.exposition)

    def test_every_metric_and_label_the_dashboard_queries_is_served(self):
        exprs = queries(self.dashboard)
        self.assertGreater(len(exprs), 20, "the dashboard lost its panels")
        self.assertEqual(problems(self.dashboard, self.exposition), [])

    def test_the_check_catches_a_metric_or_label_the_node_does_not_serve(self):
        rotten = json.loads(json.dumps(self.dashboard))
        rotten["panels"][1]["targets"][0]["expr"] = "sum by (shard) (rate(tandem_http_requests_total[5m]))"
        rotten["panels"][2]["targets"][0]["expr"] = "tandem_no_such_metric"
        found = problems(rotten, self.exposition)
        self.assertEqual(len(found), 2, found)
        self.assertIn("shard", found[0])
        self.assertIn("tandem_no_such_metric", found[1])
