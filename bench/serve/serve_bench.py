"""Drives bench/serve_bench.sh: builds the models, starts the three servers one
at a time, runs wrk for each (model, body, concurrency) and prints a markdown
table (and writes it between <!-- bench:serve --> markers with --doc)."""
import argparse
import json
import os
import pickle
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

ap = argparse.ArgumentParser()
ap.add_argument("--tiffin", required=True)
ap.add_argument("--doc")
ap.add_argument("--seconds", type=int, default=5)
ap.add_argument("--threads", type=int, default=os.cpu_count())
args = ap.parse_args()
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TMP = tempfile.mkdtemp(prefix="tiffin_serve_bench_")
TIFFIN = os.path.abspath(args.tiffin)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return time.time() - t0
        except OSError:
            time.sleep(0.005)
    raise RuntimeError("server did not start")


# Models: the seed's scaler + logistic regression, and a 100-tree forest.
repo = os.path.join(TMP, "models")
os.makedirs(os.path.join(repo, "logreg"))
os.makedirs(os.path.join(repo, "forest"))
logreg_pkl = os.path.join(SRC, "examples", "sklearn_iris", "model.pkl")
subprocess.run([TIFFIN, "pack", logreg_pkl, "-o", os.path.join(repo, "logreg", "model.tiffin"),
                "--steps", "scaler,model"], check=True, capture_output=True)
iris = load_iris()
forest = RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0).fit(iris.data,
                                                                                  iris.target)
forest_pkl = os.path.join(repo, "forest", "model.pkl")
with open(forest_pkl, "wb") as f:
    pickle.dump(forest, f, protocol=4)

row = [5.9, 3.0, 5.1, 1.8]
BODIES = {
    "V2 JSON": ("/v2/models/{m}/infer", json.dumps(
        {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP64", "data": row}]})),
    "TF JSON": ("/v1/models/{m}:predict", json.dumps({"instances": [row]})),
}
lua = os.path.join(TMP, "post.lua")


def wrk(port, path, body, conc):
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = {json.dumps(body)}\n")
    out = subprocess.run(["wrk", "-t", "1" if conc == 1 else "2", "-c", str(conc), "-d",
                          f"{args.seconds}s", "--latency", "-s", lua,
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))

    def lat(p):
        m = re.search(rf"\s{p}%\s+([0-9.]+)(us|ms|s)", out)
        v = float(m.group(1))
        return v * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} failed responses on {path}:\n{out}")
    return rps, lat(50), lat(99)


results = []  # (server, model, body, conc, rps, p50, p99)
concs = [1, 16]

# tiffin, in its default mode (I/O thread + worker pool) and with --inline
# (one I/O context per thread, each request run where it was read).
VARIANTS = (("tiffin", []), ("tiffin --inline", ["--inline"]))
ready_ms = wall_ready = rss = None
for server, extra in VARIANTS:
    port = free_port()
    t0 = time.time()
    proc = subprocess.Popen([TIFFIN, "serve", repo, "--http-port", str(port), "--threads",
                             str(args.threads)] + extra, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if '"event":"ready"' in line:
            if ready_ms is None:
                ready_ms = json.loads(line)["startup_ms"]
            break
    if wall_ready is None:
        wall_ready = (time.time() - t0) * 1000
    for m in ("logreg", "forest"):
        for bname, (path, body) in BODIES.items():
            for c in concs:
                results.append((server, m, bname, c) + wrk(port, path.format(m=m), body, c))
    if rss is None:
        rss = int(re.search(r"^process_resident_memory_bytes (\d+)$",
                            subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/metrics"],
                                           capture_output=True, text=True).stdout,
                            re.M).group(1))
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)

# nginx: a fixed body, the floor for an HTTP server on this machine.
port = free_port()
ngx = os.path.join(TMP, "nginx")
os.makedirs(os.path.join(ngx, "logs"))
fixed = json.dumps({"model_name": "logreg", "outputs": [
    {"name": "label", "datatype": "INT64", "shape": [1], "data": [2]}]})
with open(os.path.join(ngx, "nginx.conf"), "w") as f:
    f.write(f"""daemon off; worker_processes {args.threads}; pid {ngx}/nginx.pid;
error_log {ngx}/logs/error.log; events {{ worker_connections 1024; }}
http {{ access_log off; client_body_temp_path {ngx}; proxy_temp_path {ngx};
  fastcgi_temp_path {ngx}; uwsgi_temp_path {ngx}; scgi_temp_path {ngx};
  server {{ listen 127.0.0.1:{port}; location / {{ default_type application/json;
    return 200 '{fixed}'; }} }} }}
""")
proc = subprocess.Popen(["nginx", "-p", ngx, "-c", os.path.join(ngx, "nginx.conf")],
                        stderr=subprocess.DEVNULL)
wait_port(port, proc)
for bname, (path, body) in BODIES.items():
    for c in concs:
        results.append(("nginx (fixed body)", "-", bname, c) +
                        wrk(port, path.format(m="logreg"), body, c))
proc.send_signal(signal.SIGQUIT)
proc.wait(10)

# FastAPI + uvicorn + scikit-learn, one worker process.
port = free_port()
env = dict(os.environ, SERVE_MODELS=f"logreg={logreg_pkl},forest={forest_pkl}",
           OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
proc = subprocess.Popen(["/usr/bin/python3", "-m", "uvicorn", "fastapi_app:app", "--port",
                         str(port), "--log-level", "warning", "--workers", "1"],
                        cwd=os.path.dirname(os.path.abspath(__file__)), env=env)
wait_port(port, proc)
for m in ("logreg", "forest"):
    for bname, (path, body) in BODIES.items():
        for c in concs:
            results.append(("FastAPI+uvicorn+sklearn", m, bname, c) +
                           wrk(port, path.format(m=m), body, c))
proc.send_signal(signal.SIGTERM)
proc.wait(10)

import sklearn, fastapi, uvicorn  # noqa: E402
nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
load = os.getloadavg()
lines = [
    "## Serving: tiffin serve, nginx, FastAPI + uvicorn + scikit-learn",
    "",
    f"Measured on {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
    f"{os.cpu_count()} cores (`nproc`), Linux {platform.release()}; load average at the end "
    f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} (the machine is shared; wrk runs on the same "
    "cores as the servers).",
    "",
    f"Command: `bench/serve_bench.sh build --seconds {args.seconds}` "
    "(`--doc docs/benchmarks.md` rewrites this section).",
    "",
    f"Tools: {wrk_v.strip()} on loopback, `-t1 -c1` and `-t2 -c16`, {args.seconds} s per cell, "
    f"`--latency`; {nginx_v} ({args.threads} workers, `return 200` of a fixed V2 body); FastAPI "
    f"{fastapi.__version__} + uvicorn {uvicorn.__version__} (one worker) + scikit-learn "
    f"{sklearn.__version__}; tiffin serve --threads {args.threads}, without and with `--inline`.",
    "Models: `logreg` = the seed's MinMaxScaler + LogisticRegression (examples/sklearn_iris, "
    "packed to .tiffin), `forest` = RandomForestClassifier(100 trees, max_depth 8) on iris, "
    "loaded from its pickle. One row per request.",
    "",
    f"tiffin start to ready: {ready_ms:.1f} ms (its log), {wall_ready:.0f} ms wall "
    f"including process start; RSS with both models loaded after the run: {rss / 1e6:.1f} MB.",
    "",
    "| server | model | body | concurrency | requests/s | p50 µs | p99 µs |",
    "|---|---|---|---|---|---|---|",
]
for s, m, b, c, rps, p50, p99 in results:
    lines.append(f"| {s} | {m} | {b} | {c} | {rps:.0f} | {p50:.0f} | {p99:.0f} |")
lines.append("")
lines.append("Ratios (same body and concurrency):")
lines.append("")
lines.append("| server | model | body | concurrency | tiffin / nginx req/s | tiffin / FastAPI req/s |")
lines.append("|---|---|---|---|---|---|")
idx = {(s, m, b, c): rps for s, m, b, c, rps, _, _ in results}
for server, _ in VARIANTS:
    for m in ("logreg", "forest"):
        for b in BODIES:
            for c in concs:
                t = idx[(server, m, b, c)]
                lines.append(f"| {server} | {m} | {b} | {c} | "
                             f"{t / idx[('nginx (fixed body)', '-', b, c)]:.2f} | "
                             f"{t / idx[('FastAPI+uvicorn+sklearn', m, b, c)]:.1f}x |")
# The targets, judged on this run, for each mode.
t16 = [(m, b) for m in ("logreg", "forest") for b in BODIES]
ok = lambda cond: "met" if cond else "**not met**"  # noqa: E731
lines += ["", "Targets (issue 5), on this run:", "",
          "| target | mode | measured | |", "|---|---|---|---|"]
for server, _ in VARIANTS:
    worst_ngx = min(idx[(server, m, b, c)] / idx[("nginx (fixed body)", "-", b, c)]
                    for m, b in t16 for c in concs)
    worst_fa = min(idx[(server, m, b, c)] / idx[("FastAPI+uvicorn+sklearn", m, b, c)]
                   for m, b in t16 for c in concs)
    p99_16 = max(p99 for s, m, b, c, _, _, p99 in results if s == server and c == 16)
    lines += [
        f"| >= 50% of nginx's requests/s | {server} | worst cell {worst_ngx:.0%} | "
        f"{ok(worst_ngx >= 0.5)} |",
        f"| >= 20x FastAPI's requests/s | {server} | worst cell {worst_fa:.1f}x | "
        f"{ok(worst_fa >= 20)} |",
        f"| p99 < 1 ms at concurrency 16 | {server} | worst {p99_16:.0f} µs | "
        f"{ok(p99_16 < 1000)} |"]
lines += [f"| < 50 MB RSS with the models loaded | tiffin | {rss / 1e6:.1f} MB | "
          f"{ok(rss < 50e6)} |",
          f"| < 100 ms from start to ready | tiffin | {ready_ms:.1f} ms (log), "
          f"{wall_ready:.0f} ms wall | {ok(wall_ready < 100)} |"]
text = "\n".join(lines) + "\n"
print(text)
if args.doc:
    with open(args.doc) as f:
        doc = f.read()
    block = "<!-- bench:serve -->\n" + text + "<!-- /bench:serve -->\n"
    if "<!-- bench:serve -->" in doc:
        doc = re.sub(r"<!-- bench:serve -->.*?<!-- /bench:serve -->\n", lambda _: block, doc,
                     flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + block
    with open(args.doc, "w") as f:
        f.write(doc)
shutil.rmtree(TMP, ignore_errors=True)
