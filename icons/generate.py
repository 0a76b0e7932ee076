#!/usr/bin/env python3
"""Draws the app icon (RGBA PNGs) with the standard library only: a purple rounded square with a
white calendar page. Run `python3 icons/generate.py` to regenerate; Tauri needs RGBA icons."""
import struct, zlib, os

HERE = os.path.dirname(os.path.abspath(__file__))

def rounded(x, y, x0, y0, x1, y1, r):
    if x < x0 or x > x1 or y < y0 or y > y1:
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r

def sample(u, v):
    """Colour at unit coordinates (u, v) in [0, 1), or None for transparent."""
    if not rounded(u, v, 0.04, 0.04, 0.96, 0.96, 0.2):
        return None
    purple = (91, 95, 199)
    # calendar page
    if rounded(u, v, 0.22, 0.28, 0.78, 0.80, 0.07):
        if 0.28 <= v <= 0.40:
            return (232, 234, 255)
        # 3x3 grid of day cells
        for i in range(3):
            for j in range(3):
                cx, cy = 0.32 + i * 0.18, 0.50 + j * 0.10
                if abs(u - cx) < 0.05 and abs(v - cy) < 0.03:
                    return (196, 200, 245) if (i, j) != (1, 1) else purple
        return (255, 255, 255)
    # binder rings
    for cx in (0.36, 0.64):
        if rounded(u, v, cx - 0.025, 0.20, cx + 0.025, 0.34, 0.025):
            return (255, 255, 255)
    return purple

def png(size, path):
    ss = 4
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(ss):
                for sx in range(ss):
                    c = sample((x + (sx + 0.5) / ss) / size, (y + (sy + 0.5) / ss) / size)
                    if c:
                        acc[0] += c[0]; acc[1] += c[1]; acc[2] += c[2]; acc[3] += 255
            n = ss * ss
            a = acc[3] // n
            if a:
                k = acc[3] // 255
                row += bytes([acc[0] // k, acc[1] // k, acc[2] // k, a])
            else:
                row += bytes(4)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)

for size, name in ((32, "32x32.png"), (128, "128x128.png"), (256, "128x128@2x.png"), (512, "icon.png")):
    png(size, os.path.join(HERE, name))
