#!/usr/bin/python3
"""Renders the panels of a Grafana dashboard (dist/grafana/keel.json) from a Prometheus server's
query_range API as one static HTML page of SVG charts, for a headless browser to screenshot where
Grafana is not installed (Grafana is not in Debian). Not Grafana: time series as lines, stat
panels as their last value, state timelines as green/red bands; the layout follows gridPos.

  render.py --prom http://HOST:9090 [--dashboard FILE] [--minutes N] --out page.html
"""
import argparse
import html
import json
import re
import sys
import time
import urllib.parse
import urllib.request

COLORS = ["#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9",
          "#705da0", "#508642", "#cca300", "#447ebc", "#c15c17"]
COL_W, ROW_H = 66, 34   # pixels per grid column (24 across) and per grid row


def query_range(prom, expr, start, end, step):
    q = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{prom}/api/v1/query_range?{q}", timeout=20) as r:
        j = json.load(r)
    if j.get("status") != "success":
        raise RuntimeError(f"{expr}: {j.get('error')}")
    return j["data"]["result"]


def legend(fmt, metric):
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt or "") or \
        ",".join(f"{k}={v}" for k, v in metric.items() if k != "__name__") or "value"


def human(v, unit):
    if unit == "percentunit":
        return f"{100 * v:.1f}%"
    if unit == "s":
        return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"
    suffix = {"pps": " pps", "Bps": " B/s", "ops": "/s"}.get(unit, "")
    for div, p in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= div:
            return f"{v / div:.1f}{p}{suffix}"
    return f"{v:.3g}{suffix}"


def chart(series, unit, w, h, t0, t1, fixed_max=None):
    pad_l, pad_b = 58, 18
    vals = [float(v) for s in series for _, v in s["values"] if v not in ("NaN", "+Inf", "-Inf")]
    vmax = fixed_max if fixed_max is not None else (max(vals) if vals else 1)
    vmax = vmax if vmax > 0 else 1
    out = [f'<svg width="{w}" height="{h}">']
    for i in range(5):
        y = 4 + (h - pad_b - 4) * i / 4
        out.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{w}" y2="{y:.1f}" stroke="#333"/>')
        out.append(f'<text x="{pad_l - 4}" y="{y + 4:.1f}" text-anchor="end">{html.escape(human(vmax * (4 - i) / 4, unit))}</text>')
    for i in range(4):
        t = t0 + (t1 - t0) * i / 3
        x = pad_l + (w - pad_l - 8) * i / 3
        out.append(f'<text x="{x:.1f}" y="{h - 4}" text-anchor="middle">{time.strftime("%H:%M:%S", time.gmtime(t))}</text>')
    for k, s in enumerate(series):
        pts = []
        for t, v in s["values"]:
            if v in ("NaN", "+Inf", "-Inf"):
                continue
            x = pad_l + (w - pad_l - 8) * (float(t) - t0) / max(t1 - t0, 1)
            y = 4 + (h - pad_b - 4) * (1 - min(float(v), vmax) / vmax)
            pts.append(f"{x:.1f},{y:.1f}")
        if pts:
            out.append(f'<polyline fill="none" stroke="{COLORS[k % len(COLORS)]}" stroke-width="1.6" points="{" ".join(pts)}"/>')
    out.append("</svg>")
    return "".join(out)


def timeline(series, w, t0, t1, labels):
    out, row = [f'<svg width="{w}" height="{max(1, len(series)) * 22 + 18}">'], 0
    pad_l = 190
    for s, name in zip(series, labels):
        y = row * 22 + 2
        out.append(f'<text x="{pad_l - 6}" y="{y + 14}" text-anchor="end">{html.escape(name[:30])}</text>')
        vals = s["values"]
        for i, (t, v) in enumerate(vals):
            tn = float(vals[i + 1][0]) if i + 1 < len(vals) else t1
            x0 = pad_l + (w - pad_l - 8) * (float(t) - t0) / max(t1 - t0, 1)
            x1 = pad_l + (w - pad_l - 8) * (tn - t0) / max(t1 - t0, 1)
            color = "#37872d" if float(v) >= 1 else "#c4162a"
            out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 0.5):.1f}" height="18" fill="{color}"/>')
        row += 1
    for i in range(4):
        t = t0 + (t1 - t0) * i / 3
        x = pad_l + (w - pad_l - 8) * i / 3
        out.append(f'<text x="{x:.1f}" y="{row * 22 + 14}" text-anchor="middle">{time.strftime("%H:%M:%S", time.gmtime(t))}</text>')
    out.append("</svg>")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prom", required=True)
    ap.add_argument("--dashboard", default="dist/grafana/keel.json")
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--rate-interval", default="30s")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    d = json.load(open(a.dashboard))
    t1 = time.time()
    t0 = t1 - a.minutes * 60
    step = max(1, int((t1 - t0) / 150))
    cells, height = [], 0
    for p in d["panels"]:
        g = p["gridPos"]
        x, y, w, h = g["x"] * COL_W, g["y"] * ROW_H, g["w"] * COL_W - 8, g["h"] * ROW_H - 8
        height = max(height, y + h + 8)
        style = f"left:{x}px;top:{y}px;width:{w}px;height:{h}px"
        if p["type"] == "row":
            cells.append(f'<div class="row" style="{style}">{html.escape(p["title"])}</div>')
            continue
        series, names = [], []
        for t in p.get("targets", []):
            e = t["expr"].replace("$__rate_interval", a.rate_interval).replace("$instance", ".*").replace("$vip", ".*")
            for s in query_range(a.prom, e, t0, t1, step):
                series.append(s)
                names.append(legend(t.get("legendFormat"), s["metric"]))
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        fmax = p.get("fieldConfig", {}).get("defaults", {}).get("max")
        if not series:
            body = '<div class="none">no data</div>'
        elif p["type"] == "stat":
            last = sum(float(s["values"][-1][1]) for s in series)
            body = f'<div class="stat" style="color:{"#c4162a" if last >= 1 else "#37872d"}">{html.escape(human(last, unit))}</div>'
        elif p["type"] == "state-timeline":
            body = timeline(series, w - 8, t0, t1, names)
        else:
            leg = "".join(f'<span><i style="background:{COLORS[k % len(COLORS)]}"></i>{html.escape(n)} '
                          f'{html.escape(human(float(s["values"][-1][1]), unit))}</span>'
                          for k, (s, n) in enumerate(zip(series, names)) if k < 8)
            body = chart(series, unit, w - 8, h - 64, t0, t1, fmax) + f'<div class="legend">{leg}</div>'
        cells.append(f'<div class="panel" style="{style}"><div class="title">{html.escape(p["title"])}</div>{body}</div>')
    page = f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ background:#111217; color:#ccccdc; font:12px DejaVu Sans, sans-serif; margin:0 }}
h1 {{ font-size:16px; margin:8px 12px }}
.board {{ position:relative; margin:0 8px; height:{height}px }}
.panel, .row {{ position:absolute; box-sizing:border-box; overflow:hidden }}
.panel {{ background:#181b1f; border:1px solid #2c3235; border-radius:2px; padding:4px }}
.row {{ font-weight:bold; font-size:14px; padding-top:6px }}
.title {{ font-weight:bold; margin-bottom:2px }}
svg text {{ fill:#9fa7b3; font-size:10px }}
.legend span {{ margin-right:10px; white-space:nowrap; font-size:10px }}
.legend i {{ display:inline-block; width:10px; height:3px; margin-right:4px; vertical-align:middle }}
.stat {{ font-size:40px; text-align:center; margin-top:30px }}
.none {{ color:#666; text-align:center; margin-top:40px }}
</style></head><body><h1>{html.escape(d["title"])} — rendered from Prometheus by tools/dashboard.d/render.py
({time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t1))}, last {a.minutes:g} min)</h1>
<div class="board">{"".join(cells)}</div></body></html>"""
    open(a.out, "w").write(page)
    print(f"{a.out}: {sum(1 for p in d['panels'] if p['type'] != 'row')} panels, {height + 40}px high")


if __name__ == "__main__":
    sys.exit(main())
