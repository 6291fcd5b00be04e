"""The Prometheus material in deploy/prometheus against the real programs: promtool accepts the alert
rules and their unit tests pass, the Grafana dashboard is valid JSON, and every metric that a rule or a
dashboard panel uses is one that a running ocsp-responder or ocsp-stapler actually exposes (so a renamed
metric breaks this test instead of silently muting an alert)."""
import json
import re
import shutil
import sys
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import free_port, ocsp_query, run  # noqa: E402
from stapler_testlib import StaplerFixtures  # noqa: E402

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
RULES = DEPLOY / "ocspkit-alerts.yml"
RULE_TESTS = DEPLOY / "ocspkit-alerts.test.yml"
DASHBOARD = DEPLOY / "grafana-ocspkit.json"

# PromQL words that look like metric names but are functions, keywords or label names.
_NOT_METRICS = {
    "sum", "by", "rate", "increase", "changes", "and", "on", "or", "unless", "min", "max", "avg", "count",
    "histogram_quantile", "le", "without", "ignoring", "group_left", "group_right", "bool", "offset",
}
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def metric_names_in(expr):
    """Metric names an expression selects: identifiers not inside {...} or quotes, not followed by '('."""
    text = re.sub(r'"[^"]*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    text = re.sub(r"\b(by|on|without|ignoring)\s*\([^)]*\)", "", text)
    names = set()
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        word, call = m.group(1), m.group(2)
        if call or word in _NOT_METRICS or word.isdigit():
            continue
        if "_" in word:  # ours all have one; PromQL keywords and durations do not
            names.add(word)
    return names


def families_in(exposition):
    """Metric family names from # TYPE lines, plus the sample names a histogram family implies."""
    names = set()
    for line in exposition.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) == "histogram":
                names.update(m.group(1) + s for s in _HISTOGRAM_SUFFIXES)
    return names


class PrometheusMaterial(StaplerFixtures, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("promtool") is None:
            raise AssertionError("promtool not found: install the Debian package prometheus "
                                 "(scripts/install-deps.sh does)")
        cls.build_pki("Prometheus CA", ["www"])

    def test_rules_pass_promtool(self):
        r = run(["promtool", "check", "rules", str(RULES)], check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run(["promtool", "test", "rules", str(RULE_TESTS)], check=False, timeout=240, cwd=DEPLOY)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_every_used_metric_is_exposed(self):
        # Traffic first, so that labelled families have samples as well as their # TYPE lines.
        rc, out = ocsp_query(self.responder.url, self.pki.ca_cert, serials=[self.certs["www"]["serial"], "7777"])
        self.assertEqual(rc, 0, out)
        # With a [proxy], so that its families are exposed too.
        stapler = self.start_stapler([{"name": "www", "chain": str(self.certs["www"]["chain"])}],
                                     proxy={"listen": [f"127.0.0.1:{free_port()}"]},
                                     proxy_issuers=[{"ca": str(self.pki.ca_cert), "responder_url": self.responder.url + "/"}])
        with urllib.request.urlopen(f"{self.responder.url}/metrics", timeout=10) as resp:
            exposed = families_in(resp.read().decode())
        exposed |= families_in(stapler.metrics_text())

        used = {}
        rules = RULES.read_text()
        for m in re.finditer(r"expr:\s*(\|\n(?:\s{10,}.*\n)+|.*)", rules):
            for name in metric_names_in(m.group(1)):
                used.setdefault(name, []).append("ocspkit-alerts.yml")
        dashboard = json.loads(DASHBOARD.read_text())

        def panels(items):
            for p in items:
                yield p
                yield from panels(p.get("panels", []))

        for panel in panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                for name in metric_names_in(target["expr"]):
                    used.setdefault(name, []).append(f"dashboard panel '{panel['title']}'")
        for var in dashboard["templating"]["list"]:
            q = var.get("query")
            if isinstance(q, dict):
                for name in re.findall(r"label_values\((\w+)", q["query"]):
                    used.setdefault(name, []).append(f"dashboard variable {var['name']}")

        self.assertGreater(len(used), 15, sorted(used))
        missing = {n: where for n, where in used.items() if n not in exposed}
        self.assertEqual(missing, {}, f"metrics used but not exposed; exposed: {sorted(exposed)}")

    def test_expression_parser_finds_metric_names(self):
        # The check above is only as good as this extraction.
        self.assertEqual(metric_names_in(
            'sum by (instance) (rate(ocsp_responses_total{status="tryLater"}[5m])) / '
            'sum by (instance) (rate(ocsp_responses_total[5m])) > 0.01'), {"ocsp_responses_total"})
        self.assertEqual(metric_names_in(
            'histogram_quantile(0.99, sum by (le) (rate(ocsp_request_duration_seconds_bucket{instance=~"$r"}[5m])))'),
            {"ocsp_request_duration_seconds_bucket"})
        self.assertEqual(metric_names_in("ocsp_stapler_staple_seconds_until_expiry < 4 * 3600"),
                         {"ocsp_stapler_staple_seconds_until_expiry"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
