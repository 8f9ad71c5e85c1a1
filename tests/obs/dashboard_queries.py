#!/usr/bin/env python3
"""dashboard_queries — every query of a Grafana dashboard, run against real servers.

  dashboard_queries.py list DASHBOARD prometheus|loki
      print each expression of that data source (variables substituted), one
      JSON string a line
  dashboard_queries.py promql DASHBOARD PROMETHEUS_URL
      run every PromQL expression (and the label_values() of the template
      variables) through Prometheus's HTTP API; each must return data
  dashboard_queries.py logql DASHBOARD LOKI_URL
      run every LogQL expression through Loki's HTTP API over the last 10
      minutes; each must return data

Grafana's variables are replaced the way Grafana would with "All" selected
(the variable's allValue, ".*" here) and with intervals that suit a test whose
Prometheus scrapes every second. Exit status: 0 when every query returned
data, 1 otherwise (each failure is printed with the server's answer).
Standard library only.
"""
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

INTERVALS = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__auto": "1m",
    "__range": "10m",
}


def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))


def datasource_uid(ds):
    if isinstance(ds, dict):
        return ds.get("uid") or ds.get("type")
    return ds


def substitute(expr, variables):
    def repl(m):
        name = m.group(1) or m.group(2)
        if name in INTERVALS:
            return INTERVALS[name]
        if name in variables:
            return variables[name]
        raise SystemExit(f"expression uses unknown variable ${name}: {expr}")
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, expr)


def load(path):
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    variables = {}
    for v in dash.get("templating", {}).get("list", []):
        variables[v["name"]] = v.get("allValue") or ".*"
    return dash, variables


def expressions(dash, variables, kind):
    """(panel title, expression) for every target whose data source is `kind`."""
    out = []
    for p in panels(dash["panels"]):
        for t in p.get("targets", []):
            uid = datasource_uid(t.get("datasource")) or datasource_uid(p.get("datasource"))
            if uid == kind and t.get("expr"):
                out.append((p.get("title", "?"), substitute(t["expr"], variables)))
    return out


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")
        try:
            return json.loads(body)
        except ValueError:
            return {"status": "error", "error": f"HTTP {e.code}: {body[:300]}"}


def finite_values(result_type, result):
    if result_type == "scalar":
        return [float(result[1])]
    vals = []
    for series in result:
        points = series.get("values") or [series.get("value")]
        for p in points:
            if p is None:
                continue
            try:
                v = float(p[1])
            except (TypeError, ValueError):
                continue
            if math.isfinite(v):
                vals.append(v)
    return vals


def run_promql(dash, variables, base):
    failures = 0
    checked = 0
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\)\s*", q or "")
        if v.get("type") != "query" or not m:
            continue
        checked += 1
        url = f"{base}/api/v1/series?" + urllib.parse.urlencode({"match[]": m.group(1)})
        answer = get_json(url)
        values = sorted({s.get(m.group(2)) for s in answer.get("data", []) if s.get(m.group(2))})
        if answer.get("status") == "success" and values:
            print(f"ok    variable ${v['name']} = {', '.join(values)}")
        else:
            failures += 1
            print(f"FAIL  variable ${v['name']}: {q} -> {json.dumps(answer)[:300]}")
    for title, expr in expressions(dash, variables, "prometheus"):
        checked += 1
        answer = get_json(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        data = answer.get("data", {})
        vals = finite_values(data.get("resultType"), data.get("result", [])) \
            if answer.get("status") == "success" else []
        if vals:
            print(f"ok    [{title}] {expr}  ({len(data['result'])} series, e.g. {vals[0]:.6g})")
        else:
            failures += 1
            why = answer.get("error") or f"no data: {json.dumps(data)[:300]}"
            print(f"FAIL  [{title}] {expr}\n      {why}")
    print(f"promql: {checked - failures} of {checked} queries returned data")
    return failures == 0 and checked > 0


def run_logql(dash, variables, base):
    failures = 0
    exprs = expressions(dash, variables, "loki")
    end = time.time_ns()
    start = end - 10 * 60 * 10**9
    for title, expr in exprs:
        params = {"query": expr, "start": str(start), "end": str(end), "limit": "100", "step": "15"}
        answer = get_json(f"{base}/loki/api/v1/query_range?" + urllib.parse.urlencode(params))
        data = answer.get("data", {})
        result = data.get("result", []) if answer.get("status") == "success" else []
        if data.get("resultType") == "streams":
            n = sum(len(s.get("values", [])) for s in result)
        else:
            n = len(finite_values(data.get("resultType"), result))
        if n > 0:
            print(f"ok    [{title}] {expr}  ({n} entries/points)")
        else:
            failures += 1
            why = answer.get("error") or answer.get("message") or json.dumps(answer)[:300]
            print(f"FAIL  [{title}] {expr}\n      {why}")
    print(f"logql: {len(exprs) - failures} of {len(exprs)} queries returned data")
    return failures == 0 and len(exprs) > 0


def main(argv):
    if len(argv) != 4 or argv[1] not in ("list", "promql", "logql"):
        print(__doc__, file=sys.stderr)
        return 2
    dash, variables = load(argv[2])
    if argv[1] == "list":
        for _, expr in expressions(dash, variables, argv[3]):
            print(json.dumps(expr))
        return 0
    base = argv[3].rstrip("/")
    ok = run_promql(dash, variables, base) if argv[1] == "promql" else run_logql(dash, variables, base)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
