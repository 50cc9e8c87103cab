#!/usr/bin/python3
"""modbus_check.py - real-peer checks of a running `branchmeter run` Modbus
server (TCP and RTU), driven by tests/integration/modbus.sh.

Peers: pymodbus (Debian python3-pymodbus 3.0) over TCP and RTU, mbpoll over
TCP and RTU, raw bytes over a TCP socket and over the serial line (pyserial).
The register map comes from docs/registers.csv; every item of the circuits
the meter has is read over TCP and over RTU, every writable setting is
written, read back and restored over TCP, and bad requests must be answered
as core/include/bm/regmap.h and core/include/bm/modbus.h promise, with the
settings unchanged.

The RTU sweep (one read per item at 9600 baud, ~10 ms each) runs in a thread
while the TCP checks run; settings that reconfigure the serial line
(address, baud, parity ...) are written only after it has finished.

Usage: modbus_check.py --port P --rtu PTY --csv docs/registers.csv [--host H] [--speed N]
Prints "ok   ..." / "FAIL ..." lines; exits 1 if anything failed.
"""
import argparse
import calendar
import csv
import math
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

import serial  # Debian python3-serial
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.diag_message import ReturnQueryDataRequest
from pymodbus.mei_message import ReadDeviceInformationRequest

SETTINGS_PW = 1000
RESET_PW = 2000
EX_FUNC, EX_ADDR, EX_VALUE, EX_GATEWAY = 0x01, 0x02, 0x03, 0x0B
MODEL = "KPM312-1A2B3C4D-R-K-T"  # --model
UNIT = 1  # the device address (and the default RTU address)

# ----------------------------------------------------------------- reporting

_print_lock = threading.Lock()
failures = []
passes = [0]


def ok(msg):
    with _print_lock:
        passes[0] += 1
        print(f"ok   {msg}", flush=True)


def fail(msg):
    with _print_lock:
        failures.append(msg)
        print(f"FAIL {msg}", flush=True)


def check(cond, msg, detail=""):
    if cond:
        ok(msg)
    else:
        fail(f"{msg}{': ' + detail if detail else ''}")
    return cond


class Section:
    """Runs a block; an unexpected exception is one FAIL, not a crash."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        with _print_lock:
            print(f"--- {self.name}", flush=True)
        self.t0 = time.monotonic()
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            fail(f"[{self.name}] unexpected {et.__name__}: {ev}\n" + "".join(traceback.format_tb(tb)[-3:]))
        with _print_lock:
            print(f"    ({self.name}: {time.monotonic() - self.t0:.1f} s)", flush=True)
        return True


# ------------------------------------------------------------ register map

class Item:
    def __init__(self, row):
        self.name = row["name"]
        self.addr = int(row["address"])
        self.count = int(row["count"])
        self.type = row["type"]
        self.access = row["access"]
        self.unlock = row["unlock"]
        self.requires = row.get("requires", "")
        m = re.match(r"C(\d)\.", self.name)
        self.circuit = int(m.group(1)) if m else 0
        self.base = self.name[3:] if m else self.name  # name without "Cn."

    def __repr__(self):
        return f"{self.name}@{self.addr}/{self.count}"


def model_caps(code):
    """What a model code gives (docs/models.md): relays, inputs, circuits with temperature / residual."""
    if isinstance(code, bytes):
        code = code.rstrip(b"\0").decode("ascii", "replace")
    code = code.strip().upper()
    if code.startswith("MPM4"):
        exp = int(code[6])
        return {"relays": 1, "inputs": 0, "temperature": {1} if exp == 2 else set(),
                "residual": {1} if exp == 1 else set()}
    rest = re.sub(r"^KPM312-?", "", code)
    rest = re.sub(r"^(?:[1-4][A-D])+", "", rest).replace("-", "")
    toks = re.findall(r"4G|WI|R|K|L|T|S", rest)
    return {"relays": 4 if "R" in toks else 0, "inputs": 4 if "K" in toks else 0,
            "temperature": {1, 2, 3, 4} if "T" in toks else set(),
            "residual": {1, 2, 3, 4} if "S" in toks else set()}


def present(it, caps):
    r = it.requires
    if not r:
        return True
    m = re.fullmatch(r"relay (\d)", r)
    if m:
        return int(m.group(1)) <= caps["relays"]
    m = re.fullmatch(r"input (\d)", r)
    if m:
        return int(m.group(1)) <= caps["inputs"]
    if r == "inputs":
        return caps["inputs"] > 0
    if r == "temperature":
        return it.circuit in caps["temperature"]
    if r == "residual current":
        return it.circuit in caps["residual"]
    raise ValueError(f"unknown requirement {r!r} of {it.name}")


def load_map(path):
    items = [Item(r) for r in csv.DictReader(open(path, newline=""))]
    return items, {i.name: i for i in items}


TYPE_REGS = {"U16": 1, "I16": 1, "U32": 2, "I32": 2, "U64": 4, "I64": 4, "F32": 2, "DATETIME": 6}


def decode(typ, regs):
    b = struct.pack(f">{len(regs)}H", *regs)
    if typ == "F32":
        return struct.unpack(">f", b)[0]
    if typ == "U16":
        return regs[0]
    if typ == "I16":
        return struct.unpack(">h", b)[0]
    if typ == "U32":
        return struct.unpack(">I", b)[0]
    if typ == "I32":
        return struct.unpack(">i", b)[0]
    if typ == "U64":
        return struct.unpack(">Q", b)[0]
    if typ == "I64":
        return struct.unpack(">q", b)[0]
    if typ == "STR":
        return b
    if typ == "DATETIME":
        return list(regs)
    raise ValueError(typ)


def encode(typ, value, count):
    if typ == "F32":
        b = struct.pack(">f", value)
    elif typ in ("U16", "I16"):
        b = struct.pack(">H" if typ == "U16" else ">h", int(value))
    elif typ == "U32":
        b = struct.pack(">I", int(value))
    elif typ == "I32":
        b = struct.pack(">i", int(value))
    elif typ == "U64":
        b = struct.pack(">Q", int(value))
    elif typ == "I64":
        b = struct.pack(">q", int(value))
    else:
        raise ValueError(typ)
    regs = list(struct.unpack(f">{len(b) // 2}H", b))
    assert len(regs) == count
    return regs


def f32(x):
    """x as the meter stores it in an F32 register."""
    return struct.unpack(">f", struct.pack(">f", x))[0]


def type_problem(item, regs):
    """Why `regs` is not a well-formed value of item's type (None if it is)."""
    if regs is None or len(regs) != item.count:
        return f"{len(regs) if regs is not None else 'no'} registers, expected {item.count}"
    if item.type in TYPE_REGS and TYPE_REGS[item.type] != item.count:
        return f"type {item.type} in {item.count} registers"
    v = decode(item.type, regs)
    if item.type == "STR":
        s = v.rstrip(b"\0")
        if b"\0" in s or any(c < 0x20 or c > 0x7E for c in s):
            return f"not NUL-padded printable ASCII: {v!r}"
    elif item.type == "DATETIME":
        y, mo, d, h, mi, s = v
        if not (2000 <= y <= 2099 and 1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 60):
            return f"not a date and time: {v}"
    elif item.type == "F32":
        if math.isinf(v):
            return f"infinite float {v}"
    elif item.type in ("U32", "I64", "U64", "I32", "U16"):
        pass  # every bit pattern is a valid integer
    # plausibility that holds whatever the settings are
    if item.type == "U32" and re.search(r"(_max_time|_min_time|\.time)$", item.name) and v != 0 \
            and not 946684800 <= v <= 4102444799:
        return f"timestamp {v} outside 2000..2099"
    return None


# ------------------------------------------------------------ client helpers

def is_err(r):
    return r is None or r.isError()


def ex_code(r):
    """The exception code of a pymodbus response, 'io' for no/garbled answer, None for success."""
    if r is None:
        return "io"
    if not r.isError():
        return None
    return getattr(r, "exception_code", "io")


def read(cl, addr, count, unit=UNIT, fc=3):
    fn = cl.read_holding_registers if fc == 3 else cl.read_input_registers
    r = fn(addr, count, slave=unit)
    if is_err(r):
        return None, ex_code(r)
    return list(r.registers), None


def write(cl, addr, regs, unit=UNIT, force16=False):
    """FC 06 for one register, FC 16 for more. Returns None or the exception code."""
    if len(regs) == 1 and not force16:
        r = cl.write_register(addr, regs[0], slave=unit)
    else:
        r = cl.write_registers(addr, list(regs), slave=unit)
    return ex_code(r)


def tcp_client(a):
    cl = ModbusTcpClient(a.host, port=a.port, timeout=2, retries=0)
    if not cl.connect():
        raise RuntimeError(f"cannot connect to {a.host}:{a.port}")
    return cl


def unlock(cl, pw=SETTINGS_PW, unit=UNIT):
    return write(cl, 1000, [pw], unit)


def mbap(pdu, unit=UNIT, tid=0x1234, proto=0, length=None):
    n = len(pdu) + 1 if length is None else length
    return struct.pack(">HHHB", tid, proto, n, unit) + bytes(pdu)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def raw_tcp(a, adu, sock=None):
    """Sends one ADU on a fresh (or given) connection; returns (tid, unit, pdu) or None if the server
    closed the connection without answering."""
    s = sock or socket.create_connection((a.host, a.port), timeout=3)
    try:
        s.sendall(adu)
        hdr = recv_exact(s, 7)
        if hdr is None:
            return None
        tid, proto, n, unit = struct.unpack(">HHHB", hdr)
        pdu = recv_exact(s, n - 1)
        if pdu is None:
            return None
        return tid, unit, pdu
    finally:
        if sock is None:
            s.close()


def mbpoll(args, timeout=10):
    p = subprocess.run(["mbpoll"] + [str(x) for x in args], capture_output=True, text=True, timeout=timeout)
    vals = {}
    for line in p.stdout.splitlines():
        m = re.match(r"\[(\d+)\]:\s+(\S+)", line)
        if m:
            vals[int(m.group(1))] = m.group(2)
    return p.returncode, vals, (p.stdout + p.stderr)


def close_enough(a, b, rel=0.05, absol=1e-6):
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return False
    return abs(a - b) <= max(absol, rel * max(abs(a), abs(b)))


# ----------------------------------------------------------------- the sweeps

def sweep_tcp(a, cl, items, byname):
    """Every item with FC 03 (a sample with FC 04 too), decoded and checked."""
    values = {}
    bad = []
    fc04_bad = []
    for k, it in enumerate(items):
        regs, ex = read(cl, it.addr, it.count)
        prob = type_problem(it, regs) if ex is None else f"exception {ex}"
        if prob:
            bad.append(f"{it.name} (FC 03 {it.addr}/{it.count}): {prob}")
            continue
        values[it.name] = regs
        if k % 7 == 0 or it.circuit == 0:
            regs4, ex4 = read(cl, it.addr, it.count, fc=4)
            prob4 = type_problem(it, regs4) if ex4 is None else f"exception {ex4}"
            if prob4:
                fc04_bad.append(f"{it.name}: {prob4}")
            elif (it.circuit == 0 or it.addr < 10000) and it.name not in ("rtc", "datetime", "windows", "run_time",
                                                                          "tariff", "status") and regs4 != regs:
                fc04_bad.append(f"{it.name}: FC 04 {regs4} != FC 03 {regs}")
    check(not bad, f"TCP FC 03: all {len(items)} items read whole with well-formed values",
          f"{len(bad)} bad, first: " + "; ".join(bad[:5]))
    check(not fc04_bad, "TCP FC 04: a sample of items (every meter-wide one, every 7th) reads as FC 03",
          "; ".join(fc04_bad[:5]))
    return values


def dv(values, byname, name):
    it = byname[name]
    return decode(it.type, values[name]) if name in values else None


def plausibility(a, values, byname, n_circ):
    g = lambda n: dv(values, byname, n)  # noqa: E731
    check(g("map_version") == 1, "map_version == 1", str(g("map_version")))
    check(g("circuits") == n_circ, f"circuits == {n_circ}", str(g("circuits")))
    check(g("sample_rate") in (12800,), "sample_rate 12800 S/s", str(g("sample_rate")))
    check(1 <= (g("tariff") or 0) <= 6, "tariff in 1..6", str(g("tariff")))
    check((g("windows") or 0) > 0, "windows > 0", str(g("windows")))
    rtc = g("rtc") or 0
    check(946684800 <= rtc <= 4102444799, "rtc in 2000..2099", str(rtc))
    dt = g("datetime")
    off = g("utc_offset") or 0
    if dt:
        t = calendar.timegm(tuple(dt) + (0, 0, 0)) - off
        check(abs(t - rtc) <= 30, "datetime (local) agrees with rtc and utc_offset", f"{dt} vs {rtc} (offset {off})")
    s = lambda n: (g(n) or b"").rstrip(b"\0").decode("ascii", "replace")  # noqa: E731
    check(s("vendor") == "branchmeter", "vendor == 'branchmeter'", repr(s("vendor")))
    check(s("model") == MODEL, f"model is {MODEL}", repr(s("model")))
    check(re.fullmatch(r"\d+\.\d+\.\d+.*", s("firmware")) is not None, "firmware is a version", repr(s("firmware")))
    check(len(s("serial")) > 0, "serial is set", repr(s("serial")))
    wo = [i.name for i in byname.values() if i.access == "W"]
    nz = [n for n in wo if n in values and any(values[n])]
    check(wo and not nz, f"write-only items read 0 ({', '.join(wo)})", str(nz))
    check(g("access") == 0 and g("unlock_left") == 0, "a new connection is locked (access 0, unlock_left 0)",
          f"access {g('access')}, unlock_left {g('unlock_left')}")
    u1, f = g("C1.U1"), g("C1.F")
    check(u1 is not None and 200 < u1 < 260, "C1.U1 about 230 V", str(u1))
    check(f is not None and 49.5 < f < 50.5, "C1.F about 50 Hz", str(f))
    check(g("C1.P") is not None and g("C1.S") >= abs(g("C1.P")) > 0, "C1: S >= |P| > 0", f"P {g('C1.P')} S {g('C1.S')}")
    check(g("C1.EP_imp_Wh") is not None and g("C1.EP_imp_Wh") >= 0, "C1.EP_imp_Wh (I64) >= 0", str(g("C1.EP_imp_Wh")))
    if n_circ >= 3:
        # three-wire circuit of the default simulator: no phase voltages
        if g("C3.wiring") == 2:
            check(math.isnan(g("C3.U1")) and g("C3.U12") > 390, "C3 (3P3W): U1 NaN, U12 about 400 V",
                  f"U1 {g('C3.U1')} U12 {g('C3.U12')}")
    check(g("rollover") == 10 ** 12, "rollover (U64) == 1e12 Wh", str(g("rollover")))
    check(g("C1.ct_ratio") == g("C1.I1.primary") / g("C1.I1.secondary"), "C1.ct_ratio == primary / secondary",
          f"{g('C1.ct_ratio')} vs {g('C1.I1.primary')}/{g('C1.I1.secondary')}")
    check(g("C1.I1.primary") is not None and 1 <= g("C1.I1.primary") <= 999999, "C1.I1.primary in range",
          str(g("C1.I1.primary")))


def stable(it):
    """Items whose registers do not change while nothing is written."""
    if it.addr >= 10000:
        return False
    return it.name not in ("tariff", "status", "windows", "run_time", "rtc", "datetime", "unlock_left")


def chunk_reads(a, cl, items, values):
    """Reads the map in large chunks (whole contiguous runs, up to 125 registers, item boundaries) and
    compares the registers of stable items with the item-by-item reads."""
    chunks = []
    cur = []
    for it in items:
        if cur and (it.addr != cur[-1].addr + cur[-1].count or it.addr + it.count - cur[0].addr > 125):
            chunks.append(cur)
            cur = []
        cur.append(it)
    if cur:
        chunks.append(cur)
    bad = []
    compared = 0
    for ch in chunks:
        start, n = ch[0].addr, ch[-1].addr + ch[-1].count - ch[0].addr
        regs, ex = read(cl, start, n)
        if ex is not None or len(regs) != n:
            bad.append(f"FC 03 {start}/{n}: exception {ex}")
            continue
        for it in ch:
            part = regs[it.addr - start:it.addr - start + it.count]
            prob = type_problem(it, part)
            if prob:
                bad.append(f"{it.name} in chunk {start}/{n}: {prob}")
            elif stable(it) and it.name in values:
                compared += 1
                if part != values[it.name]:
                    bad.append(f"{it.name} in chunk {start}/{n}: {part} != item read {values[it.name]}")
    check(not bad and compared > 150,
          f"{len(chunks)} chunk reads (whole runs, up to 125 registers) equal the item reads "
          f"({compared} stable items compared)", "; ".join(bad[:5]))
    # the brief's example: 100 registers at 10000 (50 floats of circuit 1)
    regs, ex = read(cl, 10000, 100)
    ok100 = ex is None and len(regs) == 100
    if ok100:
        u1 = decode("F32", regs[0:2])
        ok100 = 200 < u1 < 260
    check(ok100, "FC 03 10000/100 (50 floats) answered, C1.U1 plausible", f"ex {ex}")
    regs, ex = read(cl, 10000, 125, fc=4)
    # 125 registers end in the middle of a float: must be 02
    check(ex == EX_ADDR, "FC 04 10000/125 (ends inside an F32) -> 02", f"ex {ex}")
    regs, ex = read(cl, 10800, 124)
    check(ex is None and len(regs) == 124, "FC 03 10800/124 (62 max/min floats) answered", f"ex {ex}")


def sweep_rtu(a, items, out):
    """Every item over RTU with pymodbus (FC 03; a sample with FC 04), types checked."""
    t0 = time.monotonic()
    cl = ModbusSerialClient(port=a.rtu, baudrate=9600, parity="N", stopbits=1, bytesize=8, timeout=1, retries=0)
    if not cl.connect():
        fail(f"RTU: pymodbus cannot open {a.rtu}")
        return
    try:
        bad = []
        n = 0
        vals = {}
        for k, it in enumerate(items):
            fc = 4 if k % 11 == 5 else 3
            regs, ex = read(cl, it.addr, it.count, fc=fc)
            prob = type_problem(it, regs) if ex is None else f"exception {ex}"
            if prob:
                bad.append(f"{it.name} (FC {fc:02d} {it.addr}/{it.count}): {prob}")
            else:
                n += 1
                vals[it.name] = regs
            if len(bad) > 20:
                bad.append("... giving up")
                break
        check(not bad, f"RTU pymodbus: all {len(items)} items read whole with well-formed values "
              f"({time.monotonic() - t0:.1f} s)", f"{len(bad)} bad, first: " + "; ".join(bad[:5]))
        # a few constants
        txt = lambda n_: bytes(struct.pack(">%dH" % len(vals.get(n_, [])), *vals.get(n_, []))).rstrip(b"\0")  # noqa
        check(vals.get("map_version") == [1] and txt("vendor") == b"branchmeter" and txt("model") == MODEL.encode(),
              f"RTU pymodbus: map_version 1, vendor branchmeter, model {MODEL}",
              f"{vals.get('map_version')} {txt('vendor')} {txt('model')}")
        # exceptions over RTU
        regs, ex = read(cl, 70, 1)
        check(ex == EX_ADDR, "RTU pymodbus: FC 03 at a gap (70) -> 02", f"got {ex}")
        regs, ex = read(cl, 10001, 2)
        check(ex == EX_ADDR, "RTU pymodbus: half a float (10001/2) -> 02", f"got {ex}")
        ex = write(cl, 1153, [5])
        check(ex == EX_ADDR, "RTU pymodbus: write while the serial session is locked -> 02", f"got {ex}")
        out["rtu_ok"] = True
    finally:
        cl.close()


# ------------------------------------------------------------ protocol checks

def protocol_checks(a, cl, byname):
    # unknown function codes, raw
    for fc in (0x07, 0x41, 0x01, 0x05):
        r = raw_tcp(a, mbap([fc, 0, 0, 0, 1]))
        check(r is not None and r[2] == bytes([fc | 0x80, EX_FUNC]) and r[0] == 0x1234 and r[1] == UNIT,
              f"raw TCP: unknown function 0x{fc:02X} -> exception 01 (tid and unit echoed)", repr(r))
    # addresses
    cases = [(65000, 1, EX_ADDR, "past the map (65000)"), (70, 1, EX_ADDR, "a gap (70)"),
             (18, 2, EX_ADDR, "a gap (18..19)"), (10001, 2, EX_ADDR, "half a float (10001/2)"),
             (10000, 1, EX_ADDR, "half a float (10000/1)"), (10000, 3, EX_ADDR, "1.5 floats (10000/3)"),
             (1011, 1, EX_ADDR, "half of vt_ratio (1011/1)"), (20, 15, EX_ADDR, "part of vendor (20/15)"),
             (26000, 2, EX_ADDR, "past circuit 4 (26000)"), (65535, 1, EX_ADDR, "the last address (65535)"),
             (65535, 2, EX_ADDR, "past 0xFFFF (65535/2)"),
             (0, 0, EX_VALUE, "quantity 0"), (0, 126, EX_VALUE, "quantity 126"),
             (10000, 126, EX_VALUE, "quantity 126 at 10000"), (0, 0xFFFF, EX_VALUE, "quantity 65535")]
    for addr, n, want, what in cases:
        for fc in (3, 4):
            r = raw_tcp(a, mbap(struct.pack(">BHH", fc, addr, n)))
            got = r[2] if r else None
            check(got == bytes([fc | 0x80, want]), f"FC {fc:02d} {what} -> {want:02X}", repr(got))
    # byte count mismatches and truncated PDUs
    bad_pdus = [
        ("FC 16 byte count 4 for 1 register", bytes([0x10, 0x04, 0x81, 0x00, 0x01, 0x04, 0, 5, 0, 5])),
        ("FC 16 byte count 2 with 4 data bytes", bytes([0x10, 0x04, 0x81, 0x00, 0x01, 0x02, 0, 5, 0, 5])),
        ("FC 16 byte count 4, 2 data bytes", bytes([0x10, 0x04, 0x81, 0x00, 0x02, 0x04, 0, 5])),
        ("FC 16 quantity 0", bytes([0x10, 0x04, 0x81, 0x00, 0x00, 0x00])),
        ("FC 16 quantity 124", bytes([0x10, 0x00, 0x00, 0x00, 124, 248]) + bytes(2 * 124)[:245]),
        ("FC 16 header only (5 bytes)", bytes([0x10, 0x04, 0x81, 0x00, 0x01])),
        ("FC 03 truncated (4 bytes)", bytes([0x03, 0x00, 0x00, 0x00])),
        ("FC 03 too long (6 bytes)", bytes([0x03, 0x00, 0x00, 0x00, 0x01, 0x00])),
        ("FC 03 function code only", bytes([0x03])),
        ("FC 04 truncated (2 bytes)", bytes([0x04, 0x27])),
        ("FC 06 truncated (4 bytes)", bytes([0x06, 0x04, 0x81, 0x00])),
        ("FC 06 too long (6 bytes)", bytes([0x06, 0x04, 0x81, 0x00, 0x05, 0x00])),
        ("FC 08 truncated (2 bytes)", bytes([0x08, 0x00])),
        ("FC 43 truncated (1 byte)", bytes([0x2B])),
        ("FC 43/14 truncated (3 bytes)", bytes([0x2B, 0x0E, 0x01])),
        ("FC 43/14 read code 5", bytes([0x2B, 0x0E, 0x05, 0x00])),
    ]
    for what, pdu in bad_pdus:
        r = raw_tcp(a, mbap(pdu))
        got = r[2] if r else None
        check(got == bytes([pdu[0] | 0x80, EX_VALUE]), f"raw TCP: {what} -> 03", repr(got))
    # FC 08: 00 echoes, others are 01
    pdu = bytes([0x08, 0x00, 0x00, 0xA5, 0x37, 0x12])
    r = raw_tcp(a, mbap(pdu))
    check(r is not None and r[2] == pdu, "raw TCP: FC 08/00 echoes the request", repr(r))
    r = raw_tcp(a, mbap(bytes([0x08, 0x00, 0x01, 0x00, 0x00])))
    check(r is not None and r[2] == bytes([0x88, EX_FUNC]), "raw TCP: FC 08/01 -> 01", repr(r))
    rr = cl.execute(ReturnQueryDataRequest(0x1234, unit=UNIT))
    check(not is_err(rr) and list(getattr(rr, "message", [])) == [0x1234], "pymodbus: FC 08/00 return query data",
          repr(rr))
    # MBAP framing errors close the connection
    for what, adu in (("protocol id 1", mbap([3, 0, 0, 0, 1], proto=1)),
                      ("length 1", mbap([3], length=1)),
                      ("length 300", mbap([3, 0, 0, 0, 1], length=300))):
        s = socket.create_connection((a.host, a.port), timeout=3)
        try:
            s.sendall(adu)
            try:
                d = s.recv(64)
            except ConnectionResetError:
                d = b""
            check(d == b"", f"raw TCP: MBAP {what} -> connection closed without an answer", repr(d))
        finally:
            s.close()
    # two requests in one segment are both answered, in order
    s = socket.create_connection((a.host, a.port), timeout=3)
    try:
        s.sendall(mbap([3, 0, 0, 0, 1], tid=1) + mbap([3, 0, 1, 0, 1], tid=2))
        r1 = raw_tcp(a, b"", sock=s)
        r2 = raw_tcp(a, b"", sock=s)
        check(r1 and r2 and r1[0] == 1 and r1[2] == bytes([3, 2, 0, 1]) and r2[0] == 2 and r2[2][:2] == bytes([3, 2]),
              "raw TCP: two pipelined requests answered in order", f"{r1} {r2}")
    finally:
        s.close()
    # one request in two segments, 100 ms apart: the stream is reassembled
    s = socket.create_connection((a.host, a.port), timeout=3)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        adu = mbap([3, 0, 0, 0, 2], tid=7)
        s.sendall(adu[:5])
        time.sleep(0.1)
        r = raw_tcp(a, adu[5:], sock=s)
        check(r is not None and r[0] == 7 and r[2] == bytes([3, 4, 0, 1, 0, a.circuits]),
              "raw TCP: a request split over two segments (100 ms apart) is answered", repr(r))
    finally:
        s.close()
    # unit ids
    for u in (0, 255, UNIT):
        regs, ex = read(cl, 0, 2, unit=u)
        check(ex is None and regs == [1, a.circuits], f"unit {u}: the whole meter (map_version, circuits)",
              f"{regs} ex {ex}")
    for u in (77, 2, 100, 100 + a.circuits + 1, 254):
        regs, ex = read(cl, 0, 1, unit=u)
        check(ex == EX_GATEWAY, f"unit {u} -> exception 0B", f"got {ex}")
    r = raw_tcp(a, mbap([0x2B, 0x0E, 0x01, 0x00], unit=77))
    check(r is not None and r[2] == bytes([0xAB, EX_GATEWAY]), "unit 77, FC 43 -> exception 0B", repr(r))
    # per-circuit units: circuit n's values at circuit 1's addresses
    i1 = byname["C1.I1"].addr
    for c in range(2, a.circuits + 1):
        own = byname[f"C{c}.I1"].addr
        good = False
        detail = ""
        for _ in range(5):  # measurement windows differ between two reads: retry through a restart
            r_own, e1 = read(cl, own, 2, unit=UNIT)
            r_view, e2 = read(cl, i1, 2, unit=100 + c)
            if e1 is None and e2 is None:
                x, y = decode("F32", r_own), decode("F32", r_view)
                detail = f"C{c}.I1 {x} (unit 1 at {own}) vs {y} (unit {100 + c} at {i1})"
                if close_enough(x, y, rel=0.05):
                    good = True
                    break
            else:
                detail = f"exceptions {e1} {e2}"
            time.sleep(0.3)
        check(good, f"unit {100 + c} serves C{c}.I1 at C1.I1's address {i1}", detail)
    cfg_a = byname["C1.I1.type"].addr
    for c in range(1, a.circuits + 1):
        r_own, _ = read(cl, byname[f"C{c}.I1.type"].addr, 1)
        r_view, e = read(cl, cfg_a, 1, unit=100 + c)
        check(r_view is not None and r_view == r_own, f"unit {100 + c}: C{c}.I1.type at {cfg_a}",
              f"{r_view} vs {r_own} ex {e}")
    if a.circuits >= 2:
        r, ex = read(cl, byname["C2.I1"].addr, 2, unit=101)
        check(ex == EX_ADDR, "unit 101: circuit 2's own block -> 02", f"got {ex}")
        r, ex = read(cl, 0, 2, unit=102)
        check(ex is None and r == [1, a.circuits], "unit 102: meter-wide registers served", f"{r} {ex}")
    # device identification
    r = raw_tcp(a, mbap([0x2B, 0x0E, 0x01, 0x00]))
    objs = {}
    if r and len(r[2]) >= 7 and r[2][:3] == bytes([0x2B, 0x0E, 0x01]):
        p, n = 7, r[2][6]
        for _ in range(n):
            oid, ln = r[2][p], r[2][p + 1]
            objs[oid] = r[2][p + 2:p + 2 + ln].decode("ascii", "replace")
            p += 2 + ln
    check(objs.get(0) == "branchmeter" and objs.get(1, "") == MODEL and re.match(r"\d+\.\d+", objs.get(2, "")),
          f"raw TCP: FC 43/14 basic: vendor branchmeter, product code {MODEL}, revision", repr(objs))
    fw = read(cl, byname["firmware"].addr, byname["firmware"].count)[0]
    fw = struct.pack(">8H", *fw).rstrip(b"\0").decode() if fw else None
    check(objs.get(2) == fw == a.version, f"FC 43/14 revision == firmware register == project version {a.version}",
          f"{objs.get(2)!r} / {fw!r}")
    rr = cl.execute(ReadDeviceInformationRequest(read_code=2, object_id=0, unit=UNIT))
    info = getattr(rr, "information", {}) if not is_err(rr) else {}
    info = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in info.items()}
    check(info.get(0) == "branchmeter" and str(info.get(1, "")) == MODEL and info.get(2) == a.version
          and len(info) == 7, "pymodbus ReadDeviceInformation (regular): objects 0..6", repr(info))
    rr = cl.execute(ReadDeviceInformationRequest(read_code=4, object_id=1, unit=UNIT))
    info = getattr(rr, "information", {}) if not is_err(rr) else {}
    check(list(info.keys()) == [1] and info[1].decode() == MODEL,
          "pymodbus ReadDeviceInformation (individual, object 1): product code", repr(info))
    r = raw_tcp(a, mbap([0x2B, 0x0E, 0x04, 0x50]))
    check(r is not None and r[2] == bytes([0xAB, EX_ADDR]), "raw TCP: FC 43/14 individual object 0x50 -> 02", repr(r))
    r = raw_tcp(a, mbap([0x2B, 0x0D, 0x01, 0x00]))
    check(r is not None and r[2] == bytes([0xAB, EX_FUNC]), "raw TCP: FC 43 MEI type 13 -> 01", repr(r))


def mbpoll_tcp(a, cl, byname):
    base = ["-m", "tcp", "-p", a.port, "-a", UNIT, "-0", "-1", "-o", "2"]
    rc, v, out = mbpoll(base + ["-r", 0, "-c", 2, "-t", 4, a.host])
    check(rc == 0 and v.get(0) == "1" and v.get(1) == str(a.circuits), "mbpoll TCP: map_version, circuits (FC 03)",
          out[-300:])
    rc, v, out = mbpoll(base + ["-r", 2, "-c", 1, "-t", "4:int", "-B", a.host])
    check(rc == 0 and v.get(2) == "12800", "mbpoll TCP: sample_rate as a big-endian 32-bit int", out[-300:])
    u1 = byname["C1.U1"].addr
    for t in ("4:float", "3:float"):
        rc, v, out = mbpoll(base + ["-r", u1, "-c", 3, "-t", t, "-B", a.host])
        ref = decode("F32", read(cl, u1, 2)[0])
        good = rc == 0 and len(v) == 3 and close_enough(float(v.get(u1, "nan")), ref, rel=0.02)
        check(good, f"mbpoll TCP: C1.U1..U3 as big-endian floats (-t {t}) ~ pymodbus {ref:.2f}", out[-300:])
    f = byname["C1.F"].addr
    rc, v, out = mbpoll(base + ["-r", f, "-c", 1, "-t", "4:float", "-B", a.host])
    check(rc == 0 and 49.5 < float(v.get(f, "nan")) < 50.5, "mbpoll TCP: C1.F about 50 Hz", out[-300:])
    rc, v, out = mbpoll(base + ["-r", 70, "-c", 1, "-t", 4, a.host])
    check(rc != 0 and "Illegal data address" in out, "mbpoll TCP: read at a gap -> Illegal data address", out[-200:])
    rc, v, out = mbpoll(base + ["-r", 1153, "-t", 4, a.host, 5])
    check(rc != 0 and "Illegal data address" in out, "mbpoll TCP: write while locked -> Illegal data address",
          out[-200:])
    rc, v, out = mbpoll(["-m", "tcp", "-p", a.port, "-a", 102, "-0", "-1", "-r", byname["C1.I1.type"].addr,
                         "-c", 1, "-t", 4, a.host])
    ref = read(cl, byname["C2.I1.type"].addr, 1)[0]
    check(rc == 0 and ref and v.get(byname["C1.I1.type"].addr) == str(ref[0]),
          "mbpoll TCP: unit 102 serves C2.I1.type at C1's address", out[-300:])


# ----------------------------------------------------------------- settings

def settings_items(items):
    """Every settings item whose value can be read back (RW, settings level), but the clock and the relay
    commands (actions, not settings)."""
    return [i for i in items if i.access == "RW" and i.unlock == "settings" and i.name not in ("rtc", "datetime")
            and not i.name.endswith(".command")]


def snapshot(cl, items, unit=UNIT):
    """The registers of every settings item and write-only item (one read each)."""
    snap = {}
    for it in items:
        if (it.access == "RW" and it.unlock == "settings" and it.name not in ("rtc", "datetime")) or it.access == "W":
            snap[it.name] = read(cl, it.addr, it.count, unit=unit)[0]
    return snap


def snap_diff(before, after):
    return [f"{n}: {before[n]} -> {after.get(n)}" for n in before if after.get(n) != before[n]]


COMM = ("rs485_enabled", "address", "baud", "parity", "stop_bits", "tcp_enabled", "tcp_port", "dhcp", "ip", "netmask",
        "gateway", "web_enabled", "web_port", "ftp_enabled", "ftp_port")
TARIFF_TABLE = re.compile(r"^(periods|T[a-f]\.(start|tariff))$")
CT, VCT, RCOIL = 0, 1, 2


def toggle(o):
    return 1 - o


# name pattern (without "Cn.") -> f(original value, current values by name, item) -> a different valid value
ALT = [
    (r"nominal_hz", lambda o, s, it: 60 if o == 50 else 50),
    (r"vt_ratio", lambda o, s, it: 2.5 if o != 2.5 else 3.0),
    (r"u_nominal", lambda o, s, it: 240.0 if o != 240 else 220.0),
    (r"u_min", lambda o, s, it: 5.0 if o != 5 else 6.0),
    (r".*cal_gain", lambda o, s, it: 1.01 if f32(o) != f32(1.01) else 0.99),
    (r".*cal_phase", lambda o, s, it: 0.5 if o != 0.5 else -0.5),
    (r".*cal_offset", lambda o, s, it: 0.25 if o != 0.25 else -0.25),
    (r"tariff_select", lambda o, s, it: 3 if o != 3 else 4),
    (r"tariff_mode", lambda o, s, it: toggle(o)),
    (r"demand_method", lambda o, s, it: toggle(o)),
    (r"demand_period", lambda o, s, it: 30 if o != 30 else 5),
    (r"maxmin_clear", lambda o, s, it: 2 if o != 2 else 1),
    (r"freeze_day", lambda o, s, it: 15 if o != 15 else 28),
    (r"freeze_hour", lambda o, s, it: 6 if o != 6 else 23),
    (r"utc_offset", lambda o, s, it: -18000 if o != -18000 else 3600),   # negative: I32 sign
    (r"rollover", lambda o, s, it: 500_000_000_000 if o != 500_000_000_000 else 2 ** 40),
    (r"rs485_enabled|tcp_enabled|dhcp|web_enabled|ftp_enabled|language|key_tone", lambda o, s, it: toggle(o)),
    (r"address", lambda o, s, it: 17 if o != 17 else 18),
    (r"baud", lambda o, s, it: 19200 if o != 19200 else 9600),
    (r"parity", lambda o, s, it: 2 if o != 2 else 1),
    (r"stop_bits", lambda o, s, it: 2 if o != 2 else 1),
    (r"tcp_port", lambda o, s, it: 1502 if o != 1502 else 502),
    (r"ip", lambda o, s, it: 0x0A000005 if o != 0x0A000005 else 0x0A000006),
    (r"netmask", lambda o, s, it: 0xFFFF0000 if o != 0xFFFF0000 else 0xFFFFFF00),
    (r"gateway", lambda o, s, it: 0x0A000001 if o != 0x0A000001 else 0x0A000002),
    (r"web_port", lambda o, s, it: 8080 if o != 8080 else 80),
    (r"ftp_port", lambda o, s, it: 2121 if o != 2121 else 21),
    (r"backlight|brightness", lambda o, s, it: 5 if o != 5 else 1),
    (r"wiring", lambda o, s, it: 5 if o != 5 else 0),
    (r"i_min", lambda o, s, it: 0.2 if f32(o) != f32(0.2) else 0.3),
    (r"load_threshold", lambda o, s, it: 1.5 if o != 1.5 else 2.5),
    # CT -> VCT (a CT secondary of 5 A is a valid 5 mV); VCT -> RCOIL; RCOIL -> VCT
    (r"I[123n]\.type", lambda o, s, it: {CT: VCT, VCT: RCOIL, RCOIL: VCT}[o]),
    (r"I[123n]\.primary", lambda o, s, it: 200.0 if o != 200 else 300.0),
    (r"I[123n]\.secondary",
     lambda o, s, it: (1.0 if o != 1 else 2.0) if s[it.name.replace("secondary", "type")] == CT
     else (100.0 if o != 100 else 150.0)),
    (r"I[123n]\.nominal", lambda o, s, it: 50.0 if o != 50 else 60.0),
    # alarms (per type), relays, inputs
    (r"\w+\.(enabled|buzzer|mode|pulse|alarm|level)", lambda o, s, it: toggle(o)),
    (r"\w+\.relays", lambda o, s, it: 1 if o != 1 else 0),
    (r"\w+\.threshold", lambda o, s, it: 10.0 if o != 10 else 20.0),
    (r"under_\w+\.release", lambda o, s, it: 110.0 if o != 110 else 120.0),
    (r"\w+\.release", lambda o, s, it: 90.0 if o != 90 else 80.0),
    (r"\w+\.(delay|hold|pulse_time)", lambda o, s, it: 2.0 if o != 2 else 3.0),
]


def alt_for(it, o, cur):
    for pat, fn in ALT:
        if re.fullmatch(pat, it.base):
            return fn(o, cur, it)
    return None


def write_readback(cl, it, new, what, unit=UNIT):
    """Writes `new` to item, reads it back. True if the value reads back as written."""
    regs = encode(it.type, new, it.count)
    ex = write(cl, it.addr, regs, unit=unit)
    back = read(cl, it.addr, it.count, unit=unit)[0]
    good = ex is None and back == regs
    if not good:
        fail(f"{what}: write {it.name} = {new} (FC {'06' if it.count == 1 else '16'} {it.addr} {regs}): "
             f"exception {ex}, reads back {back} ({decode(it.type, back) if back else None})")
    return good


def settings_loop(a, cl, items, byname, names_filter, label, unit=UNIT):
    """Writes a different valid value to every selected settings item, reads it back, restores it."""
    cur = {}
    for it in items:
        if it.access == "RW" and it.unlock == "settings" and it.name not in ("rtc", "datetime"):
            r = read(cl, it.addr, it.count, unit=unit)[0]
            cur[it.name] = decode(it.type, r)
    done = 0
    bad = 0
    for it in settings_items(items):
        if not names_filter(it) or TARIFF_TABLE.match(it.base):
            continue
        orig = read(cl, it.addr, it.count, unit=unit)[0]
        o = decode(it.type, orig)
        if it.base == "ct_ratio":
            if math.isnan(o):
                ex = write(cl, it.addr, encode("F32", 40.0, 2), unit=unit)
                back = read(cl, it.addr, 2, unit=unit)[0]
                if ex != EX_VALUE or back != orig:
                    fail(f"{it.name} (no CT inputs): write 40 -> expected 03 and NaN kept, got {ex}, {back}")
                    bad += 1
                done += 1
                continue
            new = 40.0 if o != 40 else 50.0
            prim = byname[it.name.replace("ct_ratio", "I1.primary")]
            sec = decode("F32", read(cl, byname[it.name.replace("ct_ratio", "I1.secondary")].addr, 2, unit=unit)[0])
            p_orig = read(cl, prim.addr, 2, unit=unit)[0]
            if write_readback(cl, it, new, label):
                p = decode("F32", read(cl, prim.addr, 2, unit=unit)[0])
                if not close_enough(p, new * sec, rel=1e-6):
                    fail(f"{it.name} = {new}: {prim.name} reads {p}, expected {new * sec}")
                    bad += 1
            else:
                bad += 1
            ex = write(cl, it.addr, orig, unit=unit)
            if ex is not None or read(cl, prim.addr, 2, unit=unit)[0] != p_orig:
                fail(f"{it.name}: restoring {o} -> ex {ex}, {prim.name} not restored")
                bad += 1
            done += 1
            continue
        new = alt_for(it, o, cur)
        if new is None:
            fail(f"{label}: no alternative value in the table for {it.name}")
            bad += 1
            continue
        if encode(it.type, new, it.count) == orig:
            fail(f"{label}: the table picks the current value for {it.name} ({o})")
            bad += 1
            continue
        if not write_readback(cl, it, new, label, unit=unit):
            bad += 1
        ex = write(cl, it.addr, orig, unit=unit)
        back = read(cl, it.addr, it.count, unit=unit)[0]
        if ex is not None or back != orig:
            fail(f"{label}: restoring {it.name} = {o} ({orig}): exception {ex}, reads {back}")
            bad += 1
        done += 1
    check(bad == 0 and done > 0, f"{label}: {done} settings written (FC 06 / FC 16), read back, restored",
          f"{bad} problems")
    return done


def tariff_table(a, cl, byname):
    blk = [byname[n] for n in ["periods"] + [f"T{p}.start" for p in "abcdef"] + [f"T{p}.tariff" for p in "abcdef"]]
    assert [b.addr for b in blk] == list(range(1081, 1094))
    orig = read(cl, 1081, 13)[0]
    table = [6, 100, 500, 900, 1300, 1700, 2100, 2, 3, 4, 5, 6, 2]
    ex = write(cl, 1081, table)
    back = read(cl, 1081, 13)[0]
    check(ex is None and back == table, "tariff table: FC 16 1081..1093 (6 periods, ascending) reads back",
          f"ex {ex} back {back}")
    # each start and tariff alone, FC 06, staying ascending
    bad = []
    for k, p in enumerate("abcdef"):
        st, tt = byname[f"T{p}.start"], byname[f"T{p}.tariff"]
        old = table[1 + k]
        for it, new in ((st, old + 30), (tt, table[7 + k] % 6 + 1)):
            ex = write(cl, it.addr, [new])
            b = read(cl, it.addr, 1)[0]
            if ex is not None or b != [new]:
                bad.append(f"{it.name} = {new}: ex {ex}, reads {b}")
            ex = write(cl, it.addr, [table[it.addr - 1081]])
            if ex is not None or read(cl, it.addr, 1)[0] != [table[it.addr - 1081]]:
                bad.append(f"{it.name}: restore failed, ex {ex}")
    check(not bad, "tariff table: every Tx.start and Tx.tariff written alone (FC 06), read back, restored",
          "; ".join(bad))
    # bad values, nothing changes
    for what, addr, regs in (("Tc.start 0400 (below Tb 0500)", 1084, [400]),
                             ("Tb.start 2200 (above Tc)", 1083, [2200]),
                             ("Ta.start 2460 (no such time)", 1082, [2460]),
                             ("Ta.start 1260 (minute 60)", 1082, [1260]),
                             ("Td.tariff 7", 1091, [7]), ("Td.tariff 0", 1091, [0]),
                             ("periods 0", 1081, [0]), ("periods 7", 1081, [7]),
                             ("FC 16: periods 3, descending times", 1081, [3, 800, 700, 900])):
        ex = write(cl, addr, regs, force16=len(regs) > 1)
        back = read(cl, 1081, 13)[0]
        check(ex == EX_VALUE and back == table, f"tariff table: {what} -> 03, table unchanged", f"ex {ex} {back}")
    # fewer periods: the rest is kept but unused
    ex = write(cl, 1081, [2])
    ex2 = write(cl, 1084, [100])  # Tc, not in use: not checked for order
    back = read(cl, 1081, 13)[0]
    check(ex is None and ex2 is None and back[0] == 2 and back[3] == 100,
          "tariff table: periods 2, then an unused Tc.start 0100 is accepted", f"{ex} {ex2} {back}")
    ex = write(cl, 1081, [6])
    check(ex == EX_VALUE, "tariff table: periods 6 with Tc 0100 < Tb -> 03", f"got {ex}")
    # spec registers 1072 / 1073
    ex = write(cl, 1081, orig, force16=True)
    check(ex is None and read(cl, 1081, 13)[0] == orig, "tariff table: original restored with FC 16", f"ex {ex}")
    n0 = orig[0]
    nxt = "abcdef"[n0]
    start_new = max(orig[n0] + 100, 1230) if n0 else 1230
    ex = write(cl, 1072, [(n0 + 1) * 10000 + start_new])
    back = read(cl, 1081, 13)[0]
    check(ex is None and back[0] == n0 + 1 and back[1 + n0] == start_new,
          f"period_start (1072) = {(n0 + 1) * 10000 + start_new}: appends T{nxt} at {start_new}", f"ex {ex} {back}")
    ex = write(cl, 1073, [(n0 + 1) * 10 + 4])
    back = read(cl, 1081, 13)[0]
    check(ex is None and back[7 + n0] == 4, f"period_tariff (1073) = {(n0 + 1) * 10 + 4}: T{nxt}.tariff 4",
          f"ex {ex} {back}")
    check(read(cl, 1072, 2)[0] == [0, 0], "1072 / 1073 read 0")
    before = read(cl, 1081, 13)[0]
    for what, addr, v in (("period_start for period 6 while 2 are in use", 1072, 60000 + 800),
                          ("period_start 1 at 2330 (after Tb)", 1072, 12330),
                          ("period_start period 0", 1072, 800),
                          ("period_tariff for an unused period", 1073, 64),
                          ("period_tariff tariff 7", 1073, 17)):
        ex = write(cl, addr, [v])
        check(ex == EX_VALUE and read(cl, 1081, 13)[0] == before, f"{what} -> 03, table unchanged", f"got {ex}")
    ex = write(cl, 1081, orig, force16=True)
    check(ex is None and read(cl, 1081, 13)[0] == orig, "tariff table: restored", f"ex {ex}")


def view_writes(a, cl, byname):
    """A write through unit 100 + c at circuit 1's address changes circuit c's setting."""
    c = a.circuits
    it1, itc = byname["C1.i_min"], byname[f"C{c}.i_min"]
    orig1, origc = read(cl, it1.addr, 2)[0], read(cl, itc.addr, 2)[0]
    new = encode("F32", 0.75, 2)
    ex = write(cl, it1.addr, new, unit=100 + c)
    got1, gotc = read(cl, it1.addr, 2)[0], read(cl, itc.addr, 2)[0]
    check(ex is None and gotc == new and got1 == orig1,
          f"unit {100 + c}: FC 16 at C1.i_min's address {it1.addr} sets C{c}.i_min, C1.i_min unchanged",
          f"ex {ex}, C{c} {gotc}, C1 {got1}")
    ex = write(cl, it1.addr, origc, unit=100 + c)
    check(ex is None and read(cl, itc.addr, 2)[0] == origc, f"C{c}.i_min restored through unit {100 + c}", f"ex {ex}")
    if c >= 2:
        ex = write(cl, itc.addr, new, unit=101)
        check(ex == EX_ADDR and read(cl, itc.addr, 2)[0] == origc,
              f"unit 101: a write at C{c}'s own address -> 02", f"got {ex}")


def password_checks(a, cl, byname):
    """On `cl` (unlocked with the settings password)."""
    other = tcp_client(a)
    try:
        ex = write(other, 1153, [5])
        check(ex == EX_ADDR and read(other, 1001, 1)[0] == [0],
              "unlock is per connection: another connection is still locked (write -> 02, access 0)", f"got {ex}")
    finally:
        other.close()
    regs, _ = read(cl, 1001, 1)
    left = read(cl, 1005, 1)[0]
    check(regs == [1] and left and 290 <= left[0] <= 300, "after unlock 1000: access 1, unlock_left about 300 s",
          f"access {regs} left {left}")
    ex = write(cl, 1000, [RESET_PW])
    check(ex is None and read(cl, 1001, 1)[0] == [3], "unlock with 2000 too: access 3 (both levels)", f"ex {ex}")
    ex = write(cl, 1001, [1])
    check(ex == EX_VALUE, "access = 1 -> 03 (only 0, to lock)", f"got {ex}")
    ex = write(cl, 1001, [0])
    acc = read(cl, 1001, 1)[0]
    ex2 = write(cl, 1153, [5])
    check(ex is None and acc == [0] and ex2 == EX_ADDR, "access = 0 locks: access 0, a setting write -> 02",
          f"{ex} {acc} {ex2}")
    # the settings password
    check(unlock(cl) is None, "unlock again")
    ex = write(cl, 1003, [1234])
    check(ex is None and read(cl, 1003, 1)[0] == [0], "settings_password = 1234 accepted, reads 0", f"ex {ex}")
    try:
        write(cl, 1001, [0])
        ex_old = unlock(cl, SETTINGS_PW)
        ex_new = unlock(cl, 1234)
        check(ex_old == EX_VALUE and ex_new is None and read(cl, 1001, 1)[0] == [1],
              "new settings password: 1000 -> 03, 1234 unlocks", f"{ex_old} {ex_new}")
        ex = write(cl, 1003, [10000])
        check(ex == EX_VALUE, "settings_password = 10000 -> 03", f"got {ex}")
    finally:
        unlock(cl, 1234)
        ex = write(cl, 1003, [SETTINGS_PW])
        check(ex is None, "settings_password restored to 1000", f"got {ex}")
    write(cl, 1001, [0])
    check(unlock(cl, SETTINGS_PW) is None, "1000 unlocks again")
    ex = write(cl, 1004, [2345])
    check(ex == EX_ADDR, "reset_password with only the settings level -> 02", f"got {ex}")
    check(unlock(cl, RESET_PW) is None, "unlock with the reset password")
    ex = write(cl, 1004, [2345])
    try:
        write(cl, 1001, [0])
        ex_old = unlock(cl, RESET_PW)
        ex_new = unlock(cl, 2345)
        check(ex is None and ex_old == EX_VALUE and ex_new is None and read(cl, 1001, 1)[0] == [2],
              "reset_password = 2345: 2000 -> 03, 2345 unlocks resets (access 2)", f"{ex} {ex_old} {ex_new}")
    finally:
        unlock(cl, 2345)  # (a wrong password here would lock the session: level 0)
        ex = write(cl, 1004, [RESET_PW])
        check(ex is None, "reset_password restored to 2000", f"got {ex}")
    # the universal password: the serial number's last four digits
    ser = read(cl, byname["serial"].addr, byname["serial"].count)[0]
    ser = struct.pack(">%dH" % len(ser), *ser).rstrip(b"\0").decode()
    if re.search(r"\d{4}$", ser):
        write(cl, 1001, [0])
        ex = unlock(cl, int(ser[-4:]))
        check(ex is None and read(cl, 1001, 1)[0] == [3],
              f"universal password {ser[-4:]} (serial {ser}) unlocks both levels", f"ex {ex}")
    write(cl, 1001, [0])
    check(unlock(cl) is None and read(cl, 1001, 1)[0] == [1], "back to the settings level only")


def lock_checks(a, byname):
    cl = tcp_client(a)
    try:
        for what, addr, regs in (("brightness (FC 06)", 1153, [5]), ("vt_ratio (FC 16)", 1011, encode("F32", 2.0, 2)),
                                 ("datetime", 12, [2030, 1, 1, 0, 0, 0]), ("rtc", 10, encode("U32", 1900000000, 2)),
                                 ("reset energy", 1002, [1]), ("settings_password", 1003, [1])):
            ex = write(cl, addr, regs)
            check(ex == EX_ADDR, f"locked: write {what} -> 02", f"got {ex}")
        ex = unlock(cl, 1234)
        check(ex == EX_VALUE, "wrong password -> 03", f"got {ex}")
        ex = write(cl, 1153, [5])
        check(ex == EX_ADDR and read(cl, 1001, 1)[0] == [0], "still locked after a wrong password", f"got {ex}")
        check(unlock(cl) is None, "the right password after one wrong one unlocks")
        write(cl, 1001, [0])
    finally:
        cl.close()
    # lockout: 5 wrong passwords in a row on one connection
    lk = tcp_client(a)
    other = tcp_client(a)
    try:
        exs = [unlock(lk, 1111 + k) for k in range(5)]
        check(exs == [EX_VALUE] * 5, "5 wrong passwords -> 03 each", str(exs))
        ex = unlock(lk, SETTINGS_PW)
        ex2 = write(lk, 1153, [5])
        check(ex == EX_VALUE and ex2 == EX_ADDR, "after 5 wrong passwords the right one is refused (03), still locked",
              f"{ex} {ex2}")
        ex = unlock(lk, RESET_PW)
        check(ex == EX_VALUE, "... the reset password too", f"got {ex}")
        ex = unlock(other, SETTINGS_PW)
        check(ex is None, "the lockout is per connection: another one unlocks", f"got {ex}")
        write(other, 1001, [0])
    finally:
        lk.close()
        other.close()


def bad_value_checks(a, cl, byname, items):
    """On an unlocked connection: every refused write changes nothing."""
    before = snapshot(cl, items)
    cases = [
        ("vt_ratio 0", "vt_ratio", 0.0, EX_VALUE), ("vt_ratio NaN", "vt_ratio", float("nan"), EX_VALUE),
        ("vt_ratio 10001", "vt_ratio", 10001.0, EX_VALUE), ("address 300", "address", 300, EX_VALUE),
        ("address 0", "address", 0, EX_VALUE), ("baud 1234", "baud", 1234, EX_VALUE),
        ("parity 3", "parity", 3, EX_VALUE), ("stop_bits 3", "stop_bits", 3, EX_VALUE),
        ("tariff_select 7", "tariff_select", 7, EX_VALUE), ("tariff_select 0", "tariff_select", 0, EX_VALUE),
        ("nominal_hz 55", "nominal_hz", 55, EX_VALUE), ("u_min above u_nominal", "u_min", 1000.0, EX_VALUE),
        ("utc_offset -50000", "utc_offset", -50000, EX_VALUE), ("rollover 999", "rollover", 999, EX_VALUE),
        ("netmask 255.0.255.0", "netmask", 0xFF00FF00, EX_VALUE), ("tcp_port 0", "tcp_port", 0, EX_VALUE),
        ("brightness 0", "brightness", 0, EX_VALUE), ("freeze_day 29", "freeze_day", 29, EX_VALUE),
        ("demand_period 61", "demand_period", 61, EX_VALUE), ("C1.wiring 6", "C1.wiring", 6, EX_VALUE),
        ("C1.I1.secondary 20 A (CT)", "C1.I1.secondary", 20.0, EX_VALUE),
        ("C1.I1.type 3", "C1.I1.type", 3, EX_VALUE), ("C1.I1.cal_gain 3", "C1.I1.cal_gain", 3.0, EX_VALUE),
        ("C1.I1.cal_phase 90 deg", "C1.I1.cal_phase", 90.0, EX_VALUE),
        ("C1.ct_ratio 0.5", "C1.ct_ratio", 0.5, EX_VALUE),
        ("C1.U1 (read-only)", "C1.U1", 1.0, EX_ADDR), ("map_version (read-only)", "map_version", 2, EX_ADDR),
        ("unlock_left (read-only)", "unlock_left", 5, EX_ADDR), ("vendor (read-only)", "vendor", None, EX_ADDR),
        ("reset 9", "reset", 9, EX_ADDR),  # settings level only: reset needs its own password first
    ]
    if a.circuits < 4:
        cases.append(("an absent circuit's wiring", f"C{a.circuits + 1}.wiring", 0, EX_ADDR))
    for what, name, val, want in cases:
        it = byname[name]
        regs = [0x4142] * it.count if val is None else encode(it.type, val, it.count)
        ex = write(cl, it.addr, regs)
        check(ex == want, f"write {what} -> {want:02X}", f"got {ex}")
    raw = [("FC 06 into the second half of vt_ratio (1012)", 1012, [0], EX_ADDR, False),
           ("FC 06 at a gap (1006)", 1006, [0], EX_ADDR, False),
           ("FC 06 past the map (65000)", 65000, [0], EX_ADDR, False),
           ("FC 16 over a gap (1153..1154)", 1153, [3, 0], EX_ADDR, True),
           ("FC 16 half of u_nominal (1011..1013)", 1011, encode("F32", 2.0, 2) + [0x4100], EX_ADDR, True),
           ("FC 16 settings plus a read-only item (1004..1005)", 1004, [2000, 0], EX_ADDR, True),
           ("FC 16 language..brightness with brightness 9 (all or nothing)", 1150, [0, 0, 5, 9], EX_VALUE, True),
           ("FC 16 unlock together with access (commands are written alone)", 1000, [1000, 0], EX_VALUE, True),
           ("FC 16 datetime with day 31 in June", 12, [2030, 6, 31, 12, 0, 0], EX_VALUE, True),
           ("FC 16 datetime, year 1999", 12, [1999, 12, 31, 0, 0, 0], EX_VALUE, True),
           ("FC 16 datetime, hour 24", 12, [2030, 6, 15, 24, 0, 0], EX_VALUE, True),
           ("FC 16 rtc before 2000", 10, encode("U32", 900000000, 2), EX_VALUE, True),
           ("FC 16 2 registers of datetime only", 12, [2030, 6], EX_ADDR, True)]
    for what, addr, regs, want, f16 in raw:
        ex = write(cl, addr, regs, force16=f16)
        check(ex == want, f"write {what} -> {want:02X}", f"got {ex}")
    after = snapshot(cl, items)
    d = snap_diff(before, after)
    check(not d, "refused writes changed no setting", "; ".join(d[:5]))


def clock_checks(a, cl, byname):
    rtc0 = decode("U32", read(cl, 10, 2)[0])
    t0 = time.monotonic()
    off_it = byname["utc_offset"]
    off_orig = read(cl, off_it.addr, 2)[0]
    ok_ = True
    try:
        ex = write(cl, off_it.addr, encode("I32", 7200, 2))
        check(ex is None, "utc_offset = 7200 (UTC+2)", f"got {ex}")
        off = decode("I32", read(cl, off_it.addr, 2)[0])
        target = [2030, 6, 15, 12, 0, 0]
        ex = write(cl, 12, target)
        expect = calendar.timegm((2030, 6, 15, 12, 0, 0)) - off
        rtc = decode("U32", read(cl, 10, 2)[0])
        dt = read(cl, 12, 6)[0]
        # the sample clock runs --speed times wall time
        check(ex is None and expect <= rtc <= expect + 3 * a.speed,
              f"datetime = 2030-06-15 12:00:00 (UTC+2): rtc reads {expect} (+ a few s)",
              f"ex {ex}, rtc {rtc} ({rtc - expect:+d} s)")
        check(dt is not None and dt[:4] == [2030, 6, 15, 12], "datetime reads back 2030-06-15 12:..", str(dt))
        ex = write(cl, 10, encode("U32", 1900000000, 2))
        rtc = decode("U32", read(cl, 10, 2)[0])
        dt = read(cl, 12, 6)[0]
        lt = time.gmtime(1900000000 + off)
        check(ex is None and 1900000000 <= rtc <= 1900000000 + 3 * a.speed and dt[:4] == [lt.tm_year, lt.tm_mon,
                                                                                          lt.tm_mday, lt.tm_hour],
              "rtc = 1900000000: reads back, datetime is local time", f"ex {ex} rtc {rtc} dt {dt}")
    finally:
        write(cl, off_it.addr, off_orig)
        back = rtc0 + int((time.monotonic() - t0) * a.speed)
        ex = write(cl, 10, encode("U32", back, 2))
        ok_ = ex is None and read(cl, off_it.addr, 2)[0] == off_orig
    check(ok_, "clock and utc_offset restored")


def reset_checks(a, byname):
    ep = byname["C1.EP_imp_Wh"]
    epk = byname["C1.EP_imp"]
    cl = tcp_client(a)
    try:
        unlock(cl, SETTINGS_PW)
        ex = write(cl, 1002, [1])
        check(ex == EX_ADDR, "reset with only the settings password -> 02", f"got {ex}")
        before = decode("I64", read(cl, ep.addr, 4)[0])
        check(before > 0, "C1.EP_imp_Wh > 0 before the reset", str(before))
        p = decode("F32", read(cl, byname["C1.P"].addr, 2)[0])
        ex = unlock(cl, RESET_PW)
        check(ex is None and read(cl, 1001, 1)[0] == [3], "unlock with the reset password (access 3)", f"ex {ex}")
        ex = write(cl, 1002, [9])
        check(ex == EX_VALUE, "reset command 9 -> 03", f"got {ex}")
        ex = write(cl, 1002, [1])
        after = decode("I64", read(cl, ep.addr, 4)[0])
        afterk = decode("F32", read(cl, epk.addr, 2)[0])
        # a window or two may have added energy since: P * 0.4 s of sample clock
        tiny = max(5.0, abs(p) * 0.5 * a.speed / 3600.0 * 2)
        check(ex is None and 0 <= after <= tiny and after < before and 0 <= afterk * 1000 <= tiny,
              f"reset 1 (energy): C1.EP_imp_Wh {before} -> {after} (<= {tiny:.1f}), C1.EP_imp {afterk} kWh",
              f"ex {ex}")
        check(read(cl, 1002, 1)[0] == [0], "reset reads 0")
    finally:
        cl.close()


# ------------------------------------------------------------------ RTU raw

def crc16(data):
    c = 0xFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


def rtu_frame(body):
    c = crc16(body)
    return bytes(body) + bytes([c & 0xFF, c >> 8])


def rtu_xfer(ser, frame, want_len=None, wait=0.4):
    """Writes a frame; collects the answer (until want_len bytes, or `wait` s: 40 times a normal answer at 9600)."""
    ser.reset_input_buffer()
    time.sleep(0.01)  # > t3.5 (4 ms at 9600) since anything earlier
    ser.write(frame)
    ser.flush()
    buf = b""
    end = time.monotonic() + wait
    while time.monotonic() < end:
        d = ser.read(256)
        if d:
            buf += d
            if want_len and len(buf) >= want_len:
                time.sleep(0.02)
                buf += ser.read(256)
                break
    return buf


def rtu_raw_checks(a, tcp, byname):
    ser = serial.Serial(a.rtu, 9600, bytesize=8, parity="N", stopbits=1, timeout=0.02)
    try:
        req = rtu_frame([UNIT, 3, 0, 0, 0, 2])
        good = rtu_frame([UNIT, 3, 4, 0, 1, 0, a.circuits])
        r = rtu_xfer(ser, req, len(good))
        check(r == good, "raw RTU: FC 03 0/2 answered (map_version, circuits) with a valid CRC", r.hex())
        badcrc = bytearray(req)
        badcrc[-1] ^= 0x5A
        r = rtu_xfer(ser, bytes(badcrc))
        check(r == b"", "raw RTU: a frame with a bad CRC gets no answer", r.hex())
        r = rtu_xfer(ser, rtu_frame([5, 3, 0, 0, 0, 2]))
        check(r == b"", "raw RTU: a frame for address 5 gets no answer", r.hex())
        r = rtu_xfer(ser, rtu_frame([102, 3, 0, 0, 0, 2]))
        check(r == b"", "raw RTU: a frame for address 102 (a TCP circuit unit) gets no answer", r.hex())
        # a request with a 50 ms pause inside: two frames with bad CRCs, no answer
        ser.reset_input_buffer()
        ser.write(req[:4])
        ser.flush()
        time.sleep(0.05)
        r = rtu_xfer(ser, req[4:])
        check(r == b"", "raw RTU: a request split by a 50 ms pause (> t3.5) gets no answer", r.hex())
        r = rtu_xfer(ser, req, len(good))
        check(r == good, "raw RTU: ... and the next whole request is answered", r.hex())
        r = rtu_xfer(ser, rtu_frame([UNIT, 3, 0, 0x46, 0, 1]), 5)
        check(r == rtu_frame([UNIT, 0x83, 2]), "raw RTU: FC 03 at a gap -> 83 02", r.hex())
        r = rtu_xfer(ser, rtu_frame([UNIT, 0x41, 0, 0]), 5)
        check(r == rtu_frame([UNIT, 0xC1, 1]), "raw RTU: FC 0x41 -> C1 01", r.hex())
        r = rtu_xfer(ser, rtu_frame([UNIT, 8, 0, 0, 0xBE, 0xEF]), 8)
        check(r == rtu_frame([UNIT, 8, 0, 0, 0xBE, 0xEF]), "raw RTU: FC 08/00 echoes", r.hex())
        r = rtu_xfer(ser, rtu_frame([0, 3, 0, 0, 0, 2]))
        check(r == b"", "raw RTU: a broadcast read gets no answer", r.hex())
        # garbage, a pause, then a valid request
        ser.write(bytes([0x01, 0x03, 0x77, 0x00, 0xFF, 0x13, 0x37, 0x55, 0xAA]))
        ser.flush()
        time.sleep(0.05)
        r = rtu_xfer(ser, req, len(good))
        check(r == good, "raw RTU: garbage, a pause, then a valid request: answered", r.hex())
        ser.write(bytes(300))  # an overlong frame
        ser.flush()
        time.sleep(0.1)
        r = rtu_xfer(ser, req, len(good))
        check(r == good, "raw RTU: 300 zero bytes, a pause, then a valid request: answered", r.hex())
        # broadcast write of a setting while the serial session is unlocked
        br = byname["brightness"]
        orig = read(tcp, br.addr, 1)[0][0]
        new = 5 if orig != 5 else 1
        r = rtu_xfer(ser, rtu_frame([0, 6, br.addr >> 8, br.addr & 0xFF, 0, new]))
        check(r == b"" and read(tcp, br.addr, 1)[0] == [orig],
              "raw RTU: broadcast write while the serial line is locked: no answer, not executed", r.hex())
        unl = rtu_frame([UNIT, 6, 0x03, 0xE8, SETTINGS_PW >> 8, SETTINGS_PW & 0xFF])
        r = rtu_xfer(ser, unl, len(unl))
        check(r == unl, "raw RTU: unlock (FC 06 1000 = 1000) on the serial line, echoed", r.hex())
        r = rtu_xfer(ser, rtu_frame([0, 6, br.addr >> 8, br.addr & 0xFF, 0, new]))
        now = read(tcp, br.addr, 1)[0]
        check(r == b"" and now == [new], f"raw RTU: broadcast FC 06 brightness = {new}: no answer, executed",
              f"answer {r.hex()}, brightness {now}")
        body = [0, 0x10, br.addr >> 8, br.addr & 0xFF, 0, 1, 2, 0, orig]
        r = rtu_xfer(ser, rtu_frame(body))
        now = read(tcp, br.addr, 1)[0]
        check(r == b"" and now == [orig], f"raw RTU: broadcast FC 16 brightness = {orig}: no answer, executed",
              f"answer {r.hex()}, brightness {now}")
        r = rtu_xfer(ser, rtu_frame([0, 6, br.addr >> 8, br.addr & 0xFF, 0, 9]))
        check(r == b"" and read(tcp, br.addr, 1)[0] == [orig],
              "raw RTU: broadcast of a bad value: no answer, nothing changed", r.hex())
        lockf = rtu_frame([UNIT, 6, 0x03, 0xE9, 0, 0])
        r = rtu_xfer(ser, lockf, len(lockf))
        check(r == lockf, "raw RTU: access = 0 locks the serial line again", r.hex())
    finally:
        ser.close()


def mbpoll_rtu(a, tcp, byname):
    base = ["-m", "rtu", "-b", 9600, "-P", "none", "-s", 1, "-a", UNIT, "-0", "-1", "-o", "1"]
    rc, v, out = mbpoll(base + ["-r", 0, "-c", 2, "-t", 4, a.rtu])
    check(rc == 0 and v.get(0) == "1" and v.get(1) == str(a.circuits), "mbpoll RTU: map_version, circuits", out[-300:])
    rc, v, out = mbpoll(base + ["-r", 2, "-c", 1, "-t", "4:int", "-B", a.rtu])
    check(rc == 0 and v.get(2) == "12800", "mbpoll RTU: sample_rate as a 32-bit int", out[-300:])
    u1 = byname["C1.U1"].addr
    for t in ("4:float", "3:float"):
        rc, v, out = mbpoll(base + ["-r", u1, "-c", 9, "-t", t, "-B", a.rtu])
        ref = decode("F32", read(tcp, u1, 2)[0])
        check(rc == 0 and len(v) == 9 and close_enough(float(v.get(u1, "nan")), ref, rel=0.02),
              f"mbpoll RTU: C1.U1..ULavg as floats (-t {t}) ~ {ref:.2f}", out[-300:])
    vt = byname["vt_ratio"].addr
    rc, v, out = mbpoll(base + ["-r", vt, "-c", 1, "-t", "4:float", "-B", a.rtu])
    ref = decode("F32", read(tcp, vt, 2)[0])
    check(rc == 0 and float(v.get(vt, "nan")) == ref, "mbpoll RTU: vt_ratio", out[-300:])
    ven = byname["vendor"]
    rc, v, out = mbpoll(base + ["-r", ven.addr, "-c", ven.count, "-t", "4:hex", a.rtu])
    txt = b"".join(int(v.get(ven.addr + k, "0x0000"), 16).to_bytes(2, "big") for k in range(ven.count)).rstrip(b"\0")
    check(rc == 0 and txt == b"branchmeter", "mbpoll RTU: vendor string (16 registers)", out[-300:])
    rc, v, out = mbpoll(base + ["-r", 10001, "-c", 2, "-t", 4, a.rtu])
    check(rc != 0 and "Illegal data address" in out, "mbpoll RTU: half a float -> Illegal data address", out[-200:])
    rc, v, out = mbpoll(["-m", "rtu", "-b", 9600, "-P", "none", "-a", 9, "-0", "-1", "-o", "0.5", "-r", 0, a.rtu])
    check(rc != 0 and not v, "mbpoll RTU: address 9 times out", out[-200:])


def comm_checks(a, cl, items, byname, have_rtu):
    """Comm settings (they reconfigure the serial line): after the RTU sweep. Uses unit 255, since
    changing `address` changes which unit id is the device."""
    settings_loop(a, cl, items, byname, lambda it: it.base in COMM, "comm settings", unit=255)
    # address 17: unit 17 is the meter, unit 1 is no longer served; RTU answers at 17
    ad = byname["address"]
    orig = read(cl, ad.addr, 1, unit=255)[0]
    ex = write(cl, ad.addr, [17], unit=255)
    try:
        r17 = read(cl, 0, 1, unit=17)
        r1 = read(cl, 0, 1, unit=1)
        check(ex is None and r17[0] == [1] and r1[1] == EX_GATEWAY, "address 17: TCP unit 17 serves the meter, unit 1 -> 0B",
              f"{ex} {r17} {r1}")
        if have_rtu:
            # (pymodbus 3.0.0rc1 truncates the timeout with int(): 0.5 s would not wait at all)
            s = ModbusSerialClient(port=a.rtu, baudrate=9600, parity="N", stopbits=1, bytesize=8, timeout=1, retries=0)
            s.connect()
            try:
                r17 = read(s, 0, 1, unit=17)
                r1 = read(s, 0, 1, unit=1)
                check(r17[0] == [1] and r1[1] == "io", "address 17: RTU answers at 17, not at 1", f"{r17} {r1}")
            finally:
                s.close()
    finally:
        ex = write(cl, ad.addr, orig, unit=255)
        check(ex is None and read(cl, 0, 1, unit=1)[0] == [1], "address restored: unit 1 serves the meter", f"{ex}")


# ----------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rtu", help="the master's end of the serial line (pty)")
    ap.add_argument("--csv", required=True)
    ap.add_argument("--speed", type=float, default=4)
    ap.add_argument("--version", default="0.1.0", help="expected firmware version")
    ap.add_argument("--model", default="KPM312-1A2B3C4D-R-K-T", help="the model code the meter runs as")
    a = ap.parse_args()
    global MODEL
    MODEL = a.model.upper()
    t_start = time.monotonic()
    all_items, byname_all = load_map(a.csv)

    cl = tcp_client(a)
    # the first window: values are NaN before it (retry: timing)
    deadline = time.monotonic() + 15
    while True:
        w, _ = read(cl, 6, 2)
        u, _ = read(cl, byname_all["C1.U1"].addr, 2)
        if w and decode("U32", w) > 0 and u and not math.isnan(decode("F32", u)):
            break
        if time.monotonic() > deadline:
            fail("no measurement window within 15 s")
            return 1
        time.sleep(0.1)
    a.circuits = read(cl, 1, 1)[0][0]
    model = decode("STR", read(cl, byname_all["model"].addr, byname_all["model"].count)[0])
    caps = model_caps(model)
    mine = [i for i in all_items if i.circuit <= a.circuits]
    items = [i for i in mine if present(i, caps)]
    absent = [i for i in mine if not present(i, caps)]
    byname = {i.name: i for i in items}
    print(f"register map: {len(all_items)} items, {len(items)} for {a.circuits} circuits and model {model}"
          f" ({len(absent)} the model lacks)", flush=True)
    with Section("TCP: what the model lacks answers 02"):
        bad = [i.name for i in absent if read(cl, i.addr, i.count)[1] != EX_ADDR]
        check(not bad, f"{len(absent)} items the model lacks answer exception 02", f"not 02: {bad[:10]}")

    rtu_out = {}
    rtu_thread = None
    if a.rtu:
        rtu_thread = threading.Thread(target=lambda: _guard("RTU sweep", sweep_rtu, a, items, rtu_out), daemon=True)
        rtu_thread.start()

    initial = None
    with Section("TCP: every item, plausibility, chunks"):
        initial = snapshot(cl, items)
        values = sweep_tcp(a, cl, items, byname)
        plausibility(a, values, byname, a.circuits)
        chunk_reads(a, cl, items, values)
    with Section("TCP: protocol errors, unit ids, FC 08, FC 43"):
        protocol_checks(a, cl, byname)
    with Section("mbpoll over TCP"):
        mbpoll_tcp(a, cl, byname)
    with Section("locks, wrong passwords, lockout"):
        lock_checks(a, byname)
    with Section("settings: write, read back, restore"):
        check(unlock(cl) is None, "unlock: 1000 to register 1000")
        settings_loop(a, cl, items, byname, lambda it: it.base not in COMM, "settings")
        tariff_table(a, cl, byname)
        view_writes(a, cl, byname)
    with Section("passwords and access"):
        password_checks(a, cl, byname)
    with Section("bad values"):
        bad_value_checks(a, cl, byname, items)
    with Section("clock"):
        clock_checks(a, cl, byname)
    if rtu_thread:
        with Section("waiting for the RTU sweep"):
            rtu_thread.join(timeout=120)
            check(not rtu_thread.is_alive(), "RTU sweep finished")
    with Section("reset commands"):
        # after the sweep: the energy has grown for a while, so "zeroed" means something
        reset_checks(a, byname)
    with Section("comm settings"):
        comm_checks(a, cl, items, byname, bool(rtu_out.get("rtu_ok")))
    if a.rtu:
        with Section("RTU: raw frames, broadcast"):
            rtu_raw_checks(a, cl, byname)
        with Section("mbpoll over RTU"):
            mbpoll_rtu(a, cl, byname)
    with Section("settings unchanged at the end"):
        write(cl, 1001, [0])
        final = snapshot(cl, items)
        d = snap_diff(initial, final)
        check(initial and not d, f"all {len(initial)} settings and write-only items read as at the start",
              "; ".join(d[:8]))
        regs, ex = read(cl, 0, 2)
        check(regs == [1, a.circuits], "the server still answers")
    cl.close()
    print(f"{passes[0]} passed, {len(failures)} failed ({time.monotonic() - t_start:.1f} s)", flush=True)
    if failures:
        print("failures:", flush=True)
        for f in failures:
            print(f"  FAIL {f.splitlines()[0]}", flush=True)
    return 1 if failures else 0


def _guard(name, fn, *args):
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001
        fail(f"[{name}] unexpected {type(e).__name__}: {e}\n{traceback.format_exc()}")


if __name__ == "__main__":
    sys.exit(main())
