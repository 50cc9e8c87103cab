#!/usr/bin/python3
"""make_comtrade.py — writes a COMTRADE recording with known truth.

Usage: make_comtrade.py OUTBASE TYPE RATE FREQ SECONDS [--aux]
  TYPE: ASCII | BINARY | BINARY32 | FLOAT32
Writes OUTBASE.cfg/.dat (C37.111-2013): 3 voltages (kV, phase A/B/C, ccbm
"Bus"), circuit "Feeder1" with IA IB IC IN (A), circuit "Feeder2" with IA IC
(A, secondary values with a 400/5 ratio) -> 3P3W_2CT. Prints the truth of
every quantity as JSON (the float64 reference, computed from the harmonic
phasors that define the signal, never from samples).
--aux appends two channels after those (so their numbers are unchanged):
"F1 TEMP" (degC, ccbm Feeder1, a constant AUX_TEMP_C) and "F2 IRES" (mA,
ccbm Feeder2, a sine at FREQ of RMS AUX_IRES_MA), which the automatic
mapping gives to circuit 1's temperature and circuit 2's residual current
(docs/comtrade.md); the truth then has "T" in circuit 1 and "IRES_mA" in
circuit 2.
"""
import cmath
import json
import math
import struct
import sys

args = [a for a in sys.argv[1:] if a != "--aux"]
aux = len(args) != len(sys.argv) - 1
if len(args) != 5:
    sys.exit(__doc__)
base, typ, rate, freq, seconds = args[0], args[1], float(args[2]), float(args[3]), float(args[4])
AUX_TEMP_C = 41.5
AUX_IRES_MA = 12.0
n = int(rate * seconds)
TWO_PI = 2 * math.pi

# waves: list of (order, rms, phase)
def wave_val(w, t):
    return sum(math.sqrt(2) * a * math.cos(h * TWO_PI * freq * t + ph) for h, a, ph in w)

def ph(w, h):
    return sum(a * cmath.exp(1j * p) for hh, a, p in w if hh == h)

def orders(*ws):
    return sorted({h for w in ws for h, _, _ in w})

def rms(w):
    return math.sqrt(sum(abs(ph(w, h)) ** 2 for h in orders(w)))

def neg_sum(*ws):
    out = []
    for h in orders(*ws):
        z = -sum(ph(w, h) for w in ws)
        out.append((h, abs(z), cmath.phase(z)))
    return out

def power(a, b):
    return sum((ph(a, h) * ph(b, h).conjugate()).real for h in orders(a, b))

U = []
for p in range(3):
    a = -TWO_PI / 3 * p
    mag = 230.0 * (1 + 0.01 * p)
    U.append([(1, mag, a), (5, mag * 0.04, 5 * a + 0.2), (7, mag * 0.02, 7 * a)])
I1 = []
for p in range(3):
    a = -TWO_PI / 3 * p - 0.5
    mag = 80.0 * (1 + 0.05 * p)
    I1.append([(1, mag, a), (3, mag * 0.2, 3 * a + 0.1), (5, mag * 0.1, 5 * a + 1.0)])
IN1 = neg_sum(*I1)
# Feeder2: three-wire, I2 = -(I1 + I3)
I2 = [[(1, 300.0, -0.3), (5, 30.0, -1.5 + 0.4)], None, [(1, 310.0, -0.3 + TWO_PI / 3), (5, 31.0, 5 * TWO_PI / 3 - 1.1)]]
I2[1] = neg_sum(I2[0], I2[2])

channels = []  # (id, ph, ccbm, unit, wave, scale_to_file_units, ratio_primary, ratio_secondary, ps)
for p, name in enumerate("ABC"):
    channels.append(("V" + name, name, "Bus", "kV", U[p], 1e-3, 1, 1, "P"))
for p, name in enumerate("ABC"):
    channels.append(("F1 I" + name, name, "Feeder1", "A", I1[p], 1.0, 1, 1, "P"))
channels.append(("F1 IN", "N", "Feeder1", "A", IN1, 1.0, 1, 1, "P"))
channels.append(("F2 IA", "A", "Feeder2", "A", I2[0], 5.0 / 400.0, 400, 5, "S"))
channels.append(("F2 IC", "C", "Feeder2", "A", I2[2], 5.0 / 400.0, 400, 5, "S"))
if aux:
    # a constant as an order-0 "wave": sqrt(2) * a * cos(0) = AUX_TEMP_C
    channels.append(("F1 TEMP", "", "Feeder1", "degC", [(0, AUX_TEMP_C / math.sqrt(2), 0.0)], 1.0, 1, 1, "P"))
    # in amperes like every wave here; the file holds mA (scale 1000)
    channels.append(("F2 IRES", "", "Feeder2", "mA", [(1, AUX_IRES_MA / 1000.0, 0.4)], 1000.0, 1, 1, "P"))

# per-channel a (multiplier) so that raw integers cover the range
peaks = [max(abs(wave_val(w, k / rate)) for k in range(0, min(n, int(rate / freq) * 2))) * sc * 1.2 for (_, _, _, _, w, sc, _, _, _) in channels]
if typ == "BINARY":
    full = 32767
elif typ == "BINARY32":
    full = 2 ** 31 - 1
else:
    full = None
mult = [(pk / full if full else 1.0) for pk in peaks]

with open(base + ".cfg", "w", newline="\r\n") as f:
    f.write("Integration Station,BM-TEST,2013\n")
    f.write(f"{len(channels)},{len(channels)}A,0D\n")
    for i, (cid, phn, ccbm, unit, w, sc, pri, sec, ps) in enumerate(channels):
        lo, hi = (-full, full) if full else (-1e9, 1e9)
        f.write(f"{i+1},{cid},{phn},{ccbm},{unit},{mult[i]:.12g},0,0,{lo},{hi},{pri},{sec},{ps}\n")
    f.write(f"{freq:g}\n1\n{rate:g},{n}\n")
    f.write("22/11/2026,10:00:00.000000\n22/11/2026,10:00:00.000000\n")
    f.write(f"{typ}\n1\n")

with open(base + ".dat", "wb") as f:
    for k in range(n):
        t = k / rate
        vals = [wave_val(w, t) * sc / mult[i] for i, (_, _, _, _, w, sc, _, _, _) in enumerate(channels)]
        ts = int(round(t * 1e6))
        if typ == "ASCII":
            f.write((f"{k+1},{ts}," + ",".join(f"{v:.6f}" for v in vals) + "\r\n").encode())
        elif typ == "BINARY":
            f.write(struct.pack("<II", k + 1, ts) + b"".join(struct.pack("<h", int(round(v))) for v in vals))
        elif typ == "BINARY32":
            f.write(struct.pack("<II", k + 1, ts) + b"".join(struct.pack("<i", int(round(v))) for v in vals))
        else:
            f.write(struct.pack("<II", k + 1, ts) + b"".join(struct.pack("<f", v) for v in vals))

def truth4(u, i, inw):
    v = {}
    Uv = [rms(x) for x in u]
    Iv = [rms(x) for x in i]
    for p in range(3):
        v[f"U{p+1}"] = Uv[p]
        v[f"I{p+1}"] = Iv[p]
        P = power(u[p], i[p])
        s1 = ph(u[p], 1) * ph(i[p], 1).conjugate()
        v[f"P{p+1}"] = P
        v[f"Q{p+1}"] = s1.imag
        v[f"S{p+1}"] = Uv[p] * Iv[p]
        v[f"PF{p+1}"] = P / (Uv[p] * Iv[p])
        v[f"DPF{p+1}"] = s1.real / abs(s1)
    v["In"] = rms(inw)
    v["P"] = sum(v[f"P{p+1}"] for p in range(3))
    v["Q"] = sum(v[f"Q{p+1}"] for p in range(3))
    v["S"] = sum(v[f"S{p+1}"] for p in range(3))
    v["PF"] = v["P"] / v["S"]
    return v

def line(u):
    out = []
    for p in range(3):
        out.append(rms(neg_sum(u[p], neg_sum(u[(p + 1) % 3]))))
    return out

def thd(w):
    f1 = abs(ph(w, 1))
    return 100 * math.sqrt(sum(abs(ph(w, h)) ** 2 for h in orders(w) if h >= 2)) / f1

def kfactor(w):
    num = sum(h * h * abs(ph(w, h)) ** 2 for h in orders(w))
    return num / sum(abs(ph(w, h)) ** 2 for h in orders(w))

truth = {"circuits": []}
c1 = truth4(U, I1, IN1)
for p in range(3):
    c1[f"THDU{p+1}"] = thd(U[p])
    c1[f"THDI{p+1}"] = thd(I1[p])
    c1[f"K{p+1}"] = kfactor(I1[p])
# per-order percentages of I1 and U1 (orders 1..50, index 0 = order 1)
# orders above 0.4·fs are not analysed: null
# ("any" right at the limit, where the measured frequency decides)
def lim(h, value):
    x = h * freq / (0.4 * rate)
    return value if x < 0.999 else (None if x > 1.001 else "any")
c1["HI1"] = [lim(h, 100 * abs(ph(I1[0], h)) / abs(ph(I1[0], 1))) for h in range(1, 51)]
c1["HU1_rms"] = [lim(h, abs(ph(U[0], h))) for h in range(1, 51)]
UL = line(U)
c1.update({"U12": UL[0], "U23": UL[1], "U31": UL[2], "F": freq})
truth["circuits"].append(c1)
# three-wire: against the artificial neutral
mean = [(h, a / 3, p) for h, a, p in neg_sum(*U)]  # -mean
art = [neg_sum(neg_sum(U[p], mean)) for p in range(3)]
P2 = sum(power(art[p], I2[p]) for p in range(3))
Q2 = sum((ph(art[p], 1) * ph(I2[p], 1).conjugate()).imag for p in range(3))
Iv2 = [rms(x) for x in I2]
Se = 3 * math.sqrt(sum(x * x for x in UL) / 9 * sum(x * x for x in Iv2) / 3)
truth["circuits"].append({"I1": Iv2[0], "I2": Iv2[1], "I3": Iv2[2], "P": P2, "Q": Q2, "S": Se, "PF": P2 / Se,
                          "U12": UL[0], "U1": None, "P1": None, "F": freq})
if aux:
    truth["circuits"][0]["T"] = AUX_TEMP_C
    truth["circuits"][1]["IRES_mA"] = AUX_IRES_MA
print(json.dumps(truth))
