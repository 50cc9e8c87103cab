#!/usr/bin/env python3
"""mock_server.py — a stand-in for `branchmeter run --web` (docs/api.md) to
develop and try the page (web/) without the meter: the same endpoints,
accounts, sessions, CSRF checks and answers, with synthetic measurements.
It is NOT the meter: tests/integration/web.sh runs the real binary. The
register list comes from docs/registers.csv.

Usage: python3 tests/web/mock_server.py [--port 8081] [--circuits 4]
       accounts: admin / test-admin-pw, user / test-user-pw
Extra (mock only): GET /mock/read?name=NAME → {"NAME": value}, the value a
Modbus read would give, so page.test.mjs --mock can check changes.
"""
import argparse
import csv
import fnmatch
import json
import math
import os
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'")
ALARMS = ["over_i", "under_i", "over_u", "under_u", "over_ul", "under_ul", "over_p", "over_q", "over_s",
          "over_dp", "over_dq", "over_ds", "over_thdu", "over_thdi", "over_t", "over_ires"]
PASSWORDS = {"admin": "test-admin-pw", "user": "test-user-pw"}
IDLE = 900.0
MAX_BODY = 65536
TYPES = {"text/html": ".html", "text/css": ".css", "text/javascript": ".js"}


def load_registers(n_circuits):
    regs = []
    with open(os.path.join(ROOT, "docs", "registers.csv"), newline="") as f:
        for row in csv.DictReader(f):
            name = row["name"]
            if name.startswith("C") and name[1].isdigit() and int(name[1]) > n_circuits:
                continue
            req = row["requires"]
            present = not (req.startswith("residual"))
            regs.append({
                "name": name, "address": int(row["address"]), "count": int(row["count"]),
                "type": row["type"], "unit": row["unit"], "access": row["access"], "unlock": row["unlock"],
                "requires": req, "present": present, "description": row["description"],
            })
    return regs


class Meter:
    def __init__(self, n_circuits):
        self.lock = threading.Lock()
        self.n = n_circuits
        self.regs = load_registers(n_circuits)
        self.by_name = {r["name"]: r for r in self.regs}
        self.settings = {}
        for r in self.regs:
            if r["access"] == "RW" and r["unlock"] == "settings":
                self.settings[r["name"]] = self.default(r)
        self.relays = 0
        self.inputs = 0b0101
        self.events = []
        self.t0 = time.time()
        self.clock_offset = 0
        self.energy = [1234.5 * (c + 1) for c in range(n_circuits)]
        self.add_event("power-on", "meter", 0, 0, 0)

    @staticmethod
    def default(r):
        n, d = r["name"], r["description"]
        table = {"vt_ratio": 1, "nominal_hz": 50, "u_nominal": 230, "demand_period": 15, "freeze_day": 1,
                 "rollover": 1e12, "address": 1, "baud": 9600, "stop_bits": 1, "tcp_port": 502, "web_port": 80,
                 "ftp_port": 21, "brightness": 3, "periods": 1, "tariff_select": 1, "tcp_enabled": 1,
                 "ip": 0xC0A80164, "netmask": 0xFFFFFF00, "gateway": 0xC0A80101, "language": 1}
        if n in table:
            return table[n]
        if n.endswith(".mode"):
            return 1
        if n.endswith(".tariff"):
            return 1
        if n.endswith(".cal_gain"):
            return 1
        if n.endswith(".release"):
            return 105 if ".under_" in n else 95
        if n.endswith(".primary"):
            return 100
        if n.endswith(".secondary"):
            return 5
        if n.endswith(".nominal"):
            return 100
        if n.endswith("ct_ratio"):
            return 20
        if n.endswith(".pulse_time"):
            return 1
        if n.endswith(".threshold"):
            return 100
        return 0

    def rtc(self):
        return int(time.time() + self.clock_offset)

    def add_event(self, typ, source, circuit, code, value, value2=0, account=None):
        e = {"seq": len(self.events) + 1, "time": self.rtc(), "type": typ, "source": source,
             "circuit": circuit, "code": code, "value": value, "value2": value2}
        if account:
            e["account"] = account
        self.events.append(e)

    def quantities(self, c):
        t = time.time() - self.t0
        vt = self.settings["vt_ratio"]
        q = {}
        for p in range(1, 4):
            q[f"U{p}"] = vt * (230 + 2 * math.sin(t / 7 + p) + c)
            q[f"I{p}"] = 20 + 10 * c + 3 * math.sin(t / 5 + p)
            q[f"AU{p}"] = [0, -120, 120][p - 1]
            q[f"AI{p}"] = [0, -120, 120][p - 1] - 25 - 3 * c
            q[f"AUI{p}"] = 25 + 3 * c
            q[f"PF{p}"] = math.cos(math.radians(q[f"AUI{p}"]))
            q[f"P{p}"] = q[f"U{p}"] * q[f"I{p}"] * q[f"PF{p}"]
            q[f"Q{p}"] = q[f"U{p}"] * q[f"I{p}"] * math.sin(math.radians(q[f"AUI{p}"]))
            q[f"S{p}"] = q[f"U{p}"] * q[f"I{p}"]
            q[f"F{p}"] = 50.0
            q[f"THDU{p}"] = 2.5 + 0.1 * p
            q[f"THDI{p}"] = 12 + p
            q[f"K{p}"] = 1.8 + 0.1 * p
        for a, b, n in ((1, 2, "U12"), (2, 3, "U23"), (3, 1, "U31")):
            q[n] = math.sqrt(3) * (q[f"U{a}"] + q[f"U{b}"]) / 2
        q["Uavg"] = sum(q[f"U{p}"] for p in range(1, 4)) / 3
        q["Iavg"] = sum(q[f"I{p}"] for p in range(1, 4)) / 3
        q["In"] = 1.5
        q["F"] = 50.0 + 0.01 * math.sin(t)
        for k in "PQS":
            q[k] = sum(q[f"{k}{p}"] for p in range(1, 4))
        q["PF"] = q["P"] / q["S"]
        q["USeq"] = 0
        q["ISeq"] = 1 if c == 2 else 0
        q["Uunb2"], q["Uunb0"], q["Iunb2"], q["Iunb0"] = 0.4, 0.1, 3.2, 1.1
        return q

    def value(self, name):
        """a register's value as /api/values gives it, or KeyError if absent"""
        r = self.by_name[name]
        if not r["present"]:
            raise KeyError(name)
        if name == "rtc":
            return self.rtc()
        if name in self.settings:
            return self.settings[name]
        if r["access"] == "W":
            return 0
        if name == "relays":
            return self.relays
        if name == "inputs":
            return self.inputs
        if name.startswith("DI") and name.endswith(".count"):
            return 7 * int(name[2])
        if name.startswith("SOE"):
            k = int(name[3:].split(".")[0])
            if k > 5:
                return 0
            if name.endswith(".time_ms"):
                return (self.rtc() - 60 * k) * 1000 + 123
            if name.endswith(".input"):
                return 1 + k % 4
            return k % 2
        if name.startswith("C"):
            c = int(name[1]) - 1
            rest = name.split(".", 1)[1]
            q = self.quantities(c)
            if rest in q:
                return q[rest]
            if rest.endswith("_time"):
                return self.rtc() - 3600
            if rest.endswith("_max") or rest.endswith("_min"):
                base = rest[:-4]
                if base in q:
                    return q[base] * (1.1 if rest.endswith("_max") else 0.9)
            if rest.startswith("E") or ".E" in rest:
                return self.energy[c] / (3 if rest.startswith("L") else 1) / (4 if rest.startswith("T") else 1)
            if rest in ("DP", "DP_last", "DP_max"):
                return q["P"] * (1.2 if rest.endswith("max") else 1)
            if rest in ("DQ", "DQ_last", "DQ_max"):
                return q["Q"]
            if rest in ("DS", "DS_last", "DS_max"):
                return q["S"]
            return None
        return 0

    def live(self):
        cs = []
        for c in range(self.n):
            q = self.quantities(c)
            q.update({"circuit": c + 1, "wiring": "3P4W_4CT", "EP_imp_kWh": self.energy[c], "EP_exp_kWh": 0.5,
                      "DP": q["P"], "DP_max": q["P"] * 1.2, "temperature": 31.5,
                      "alarms": ["over_i"] if c == 1 else []})
            cs.append(q)
        return {"t": time.time() - self.t0, "rtc": self.rtc(), "windows": int((time.time() - self.t0) * 5),
                "tariff": 1, "circuits": cs, "relays": self.relays, "inputs": self.inputs, "input_alarms": 0}

    def harmonics(self, c):
        out = {"circuit": c}
        for ch in ("HU1", "HU2", "HU3", "HI1", "HI2", "HI3", "HIn"):
            cur = ch[1] == "I"
            out[ch] = [100.0] + [(8 if cur else 2) / h * (1 if h % 2 else 0.2) for h in range(2, 51)]
        q = self.quantities(c - 1)
        for k in ("THDU1", "THDU2", "THDU3", "THDI1", "THDI2", "THDI3", "K1", "K2", "K3"):
            out[k] = q[k]
        return out

    def validate(self, name, v):
        if name not in self.settings or name in ("rtc", "datetime") or name.endswith(".command"):
            return "not a setting name"
        if not self.by_name[name]["present"]:
            return "not on this model"
        if name == "vt_ratio" and not 1 <= v <= 10000:
            return "out of range 1..10000"
        if name.endswith(".mode") and v not in (0, 1):
            return "0 manual or 1 alarm"
        if self.by_name[name]["type"].startswith("U") and (v < 0 or v != int(v)):
            return "a non-negative integer"
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    meter: Meter = None
    sessions = {}

    def log_message(self, fmt, *args):
        if os.environ.get("MOCK_VERBOSE"):
            super().log_message(fmt, *args)

    # ---- answers
    def send(self, status, obj=None, headers=None, body=None, ctype="application/json"):
        if body is None:
            body = json.dumps({} if obj is None else obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def err(self, status, msg, field=None):
        o = {"error": msg}
        if field:
            o["field"] = field
        self.send(status, o)

    def session(self):
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == "bm_session" and v in self.sessions:
                s = self.sessions[v]
                if time.time() - s["used"] > IDLE:
                    del self.sessions[v]
                    return None, None
                s["used"] = time.time()
                return v, s
        return None, None

    # ---- dispatch
    def do_GET(self):
        self.route("GET")

    def do_HEAD(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PATCH(self):
        self.route("PATCH")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        u = urlsplit(self.path)
        path, query = u.path, parse_qs(u.query)
        if not path.startswith("/api/") and not path.startswith("/mock/"):
            return self.static(path)
        body = b""
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            self.close_connection = True
            return self.err(413, "request body too large")
        if n:
            body = self.rfile.read(n)
        m = self.meter
        if path == "/mock/read":
            with m.lock:
                name = query.get("name", [""])[0]
                try:
                    return self.send(200, {name: m.value(name)})
                except KeyError:
                    return self.err(404, "no such register")
        if path == "/api/login" and method == "POST":
            try:
                b = json.loads(body)
                user, pw = b["user"], b["password"]
            except Exception:
                return self.err(400, "user and password needed")
            if PASSWORDS.get(user) != pw:
                return self.err(401, "wrong user or password")
            sid, csrf = secrets.token_hex(16), secrets.token_hex(16)
            self.sessions[sid] = {"user": user, "role": user, "csrf": csrf, "used": time.time()}
            return self.send(200, {"user": user, "role": user, "csrf": csrf},
                             {"Set-Cookie": f"bm_session={sid}; HttpOnly; SameSite=Strict; Path=/"})
        sid, s = self.session()
        if not s:
            return self.err(401, "log in first")
        if path == "/api/session" and method == "GET":
            return self.send(200, {"user": s["user"], "role": s["role"], "csrf": s["csrf"]})
        if method not in ("GET", "HEAD", "OPTIONS"):
            if self.headers.get("X-CSRF-Token") != s["csrf"]:
                return self.err(403, "missing or wrong CSRF token")
            if path == "/api/logout":
                del self.sessions[sid]
                return self.send(200, {}, {"Set-Cookie": "bm_session=; Max-Age=0; Path=/"})
            if s["role"] != "admin":
                return self.err(403, "the user account may only read")
            if n and not (self.headers.get("Content-Type") or "").startswith("application/json"):
                return self.err(415, "JSON bodies only")
        if path == "/api/stream":
            return self.stream()
        with m.lock:
            return self.api(method, path[5:], query, body, s)

    def api(self, method, p, q, body, s):
        m = self.meter
        if method == "GET" and p == "live":
            return self.send(200, m.live())
        if method == "GET" and p == "device":
            return self.send(200, {"vendor": "branchmeter (mock)", "model": "KPM312-1B2B3B4B-R-K-T", "firmware": "0.1.0",
                                   "serial": "MOCK0001", "model_summary": "4 circuits, 4 relays, 4 inputs, temperature",
                                   "circuits": m.n, "sample_rate": 12800, "rtc": m.rtc(),
                                   "datetime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(m.rtc())),
                                   "uptime_s": time.time() - m.t0})
        if method == "GET" and p == "registers":
            return self.send(200, m.regs)
        if method == "GET" and p == "values":
            names = ",".join(q.get("names", [])).split(",")
            out = {}
            for tok in names:
                hits = [r["name"] for r in m.regs if r["name"] == tok or fnmatch.fnmatchcase(r["name"], tok)]
                if not hits:
                    return self.err(400, "no register of that name", tok)
                for h in hits:
                    try:
                        v = m.value(h)
                    except KeyError:
                        continue
                    out[h] = None if isinstance(v, float) and math.isnan(v) else v
            return self.send(200, {"values": out})
        if method == "GET" and p == "harmonics":
            c = int((q.get("circuit") or ["1"])[0])
            if not 1 <= c <= m.n:
                return self.err(400, "circuit: 1..the meter's circuits", "circuit")
            return self.send(200, m.harmonics(c))
        if method == "GET" and p == "events":
            last = len(m.events)
            before = int((q.get("before") or [str(last + 1)])[0])
            count = int((q.get("count") or ["50"])[0])
            evs = [e for e in reversed(m.events) if e["seq"] < before][:count]
            return self.send(200, {"last": last, "events": evs})
        try:
            b = json.loads(body or b"null")
        except ValueError:
            return self.err(400, "malformed JSON")
        if not isinstance(b, dict):
            return self.err(400, "the body must be a JSON object")
        if method == "PATCH" and p == "settings":
            if not b:
                return self.err(400, "no settings given")
            for k, v in b.items():
                if isinstance(v, bool):
                    v = int(v)
                if not isinstance(v, (int, float)):
                    return self.err(400, "a setting's value must be a number (or true/false)", k)
                why = m.validate(k, v)
                if why:
                    return self.err(400, why, k)
            for k, v in b.items():
                m.settings[k] = v
            m.add_event("config", "web", 0, m.by_name[next(iter(b))]["address"], len(b), 1, "admin")
            return self.send(200, {"changed": list(b)})
        if method == "POST" and p == "relay":
            for k in b:
                if k not in ("relay", "close"):
                    return self.err(400, "unknown field", k)
            r, c = b.get("relay"), b.get("close")
            if not isinstance(r, int) or isinstance(r, bool) or not 1 <= r <= 4:
                return self.err(400, "relay: 1..the model's relays", "relay")
            if not isinstance(c, bool):
                return self.err(400, "close: true or false", "close")
            if m.settings[f"DO{r}.mode"] != 0:
                return self.err(409, "the relay is in alarm mode (set its mode to manual)", "relay")
            m.relays = (m.relays | (1 << (r - 1))) if c else (m.relays & ~(1 << (r - 1)))
            m.add_event("relay", "meter", 0, r, int(c))
            return self.send(200, {})
        if method == "POST" and p == "reset":
            if b.get("reset_password") != "2000":
                return self.err(403, "wrong reset password", "reset_password")
            codes = {"energy": 1, "max_demand": 2, "maxmin": 3, "tariff_energy": 4, "factory": 5}
            if b.get("what") not in codes:
                return self.err(400, "what: energy, max_demand, maxmin, tariff_energy or factory", "what")
            m.add_event("reset", "web", 0, codes[b["what"]], 0, 1, "admin")
            return self.send(200, {})
        if method == "POST" and p == "clock":
            if "unix" in b:
                m.clock_offset = b["unix"] - time.time()
            m.add_event("clock", "web", 0, 0, 0, 1, "admin")
            return self.send(200, {})
        return self.err(404, "no such API endpoint (docs/api.md)")

    def stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        try:
            while True:
                sid, s = self.session()
                if not s:
                    return
                with self.meter.lock:
                    data = json.dumps(self.meter.live())
                self.wfile.write(f"event: live\ndata: {data}\n\n".encode())
                self.wfile.flush()
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            return

    def static(self, path):
        if path == "/":
            path = "/index.html"
        web = os.path.join(ROOT, "web")
        f = os.path.normpath(os.path.join(web, path.lstrip("/")))
        if not f.startswith(web + os.sep) or not os.path.isfile(f) or "/." in path:
            return self.send(404, body=b"not found", ctype="text/plain")
        ext = os.path.splitext(f)[1]
        ctype = {v: k for k, v in TYPES.items()}.get(ext, "application/octet-stream")
        with open(f, "rb") as fh:
            data = fh.read()
        self.send(200, body=data, ctype=ctype + "; charset=utf-8",
                  headers={"Content-Security-Policy": CSP, "X-Frame-Options": "DENY"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--circuits", type=int, default=4)
    a = ap.parse_args()
    Handler.meter = Meter(a.circuits)
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    srv.daemon_threads = True
    print(f"mock: http://{a.host}:{srv.server_address[1]}/  (admin / test-admin-pw, user / test-user-pw)", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
