#!/usr/bin/env python3
"""Writes large broken models for the repair benchmark, reproducibly (fixed seeds).

    repair_models.py OUTDIR

Each model is a finely tessellated closed surface (exact volume known) with defects added:
punched holes, flipped facets, duplicate facets, degenerate facets, unwelded (jittered) corner
copies, debris facets far from the part, and (torus) a whole body inside out. Writes binary
STL files and OUTDIR/expected.tsv with the volume of the intact surface in mm^3.
"""
import math
import random
import struct
import sys
from array import array


def uv_sphere(r, rings, segs):
    verts = [(0.0, 0.0, r)]
    for i in range(1, rings):
        phi = math.pi * i / rings
        for j in range(segs):
            th = 2 * math.pi * j / segs
            verts.append((r * math.sin(phi) * math.cos(th), r * math.sin(phi) * math.sin(th), r * math.cos(phi)))
    verts.append((0.0, 0.0, -r))
    south = len(verts) - 1
    at = lambda i, j: 1 + (i - 1) * segs + j % segs
    tris = []
    for j in range(segs):
        tris.append((0, at(1, j), at(1, j + 1)))
        tris.append((south, at(rings - 1, j + 1), at(rings - 1, j)))
    for i in range(1, rings - 1):
        for j in range(segs):
            tris.append((at(i, j), at(i + 1, j), at(i + 1, j + 1)))
            tris.append((at(i, j), at(i + 1, j + 1), at(i, j + 1)))
    return verts, tris


def torus(big, small, n_major, n_minor):
    verts = []
    for i in range(n_major):
        u = 2 * math.pi * i / n_major
        for j in range(n_minor):
            v = 2 * math.pi * j / n_minor
            rr = big + small * math.cos(v)
            verts.append((rr * math.cos(u), rr * math.sin(u), small * math.sin(v)))
    at = lambda i, j: (i % n_major) * n_minor + j % n_minor
    tris = []
    for i in range(n_major):
        for j in range(n_minor):
            tris.append((at(i, j), at(i + 1, j), at(i + 1, j + 1)))
            tris.append((at(i, j), at(i + 1, j + 1), at(i, j + 1)))
    return verts, tris


def volume(verts, tris):
    total = 0.0
    for a, b, c in tris:
        (ax, ay, az), (bx, by, bz), (cx, cy, cz) = verts[a], verts[b], verts[c]
        total += ax * (by * cz - bz * cy) - ay * (bx * cz - bz * cx) + az * (bx * cy - by * cx)
    return total / 6.0


def soup(verts, tris):
    return [[verts[i] for i in t] for t in tris]


def punch_holes(facets, rng, holes, radius):
    """Removes every facet whose centroid is within `radius` of one of `holes` random facets."""
    centres = [facets[rng.randrange(len(facets))][0] for _ in range(holes)]
    r2 = radius * radius
    cells = {}
    for c in centres:
        cells.setdefault(tuple(int(math.floor(x / radius)) for x in c), []).append(c)
    kept = []
    for f in facets:
        m = [sum(p[k] for p in f) / 3 for k in range(3)]
        key = [int(math.floor(x / radius)) for x in m]
        hit = False
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for dz in (-1, 0, 1):
                    for c in cells.get((key[0] + dx, key[1] + dy, key[2] + dz), ()):
                        if sum((m[k] - c[k]) ** 2 for k in range(3)) < r2:
                            hit = True
        if not hit:
            kept.append(f)
    return kept


def damage(facets, rng, flip, dup, degenerate, jitter, debris, far):
    out = []
    for f in facets:
        f = list(f)
        if rng.random() < flip:
            f[1], f[2] = f[2], f[1]
        if rng.random() < jitter:
            # An unwelded copy of one corner, off by about 1e-7 of the part size.
            k = rng.randrange(3)
            f[k] = tuple(x + rng.uniform(-1e-5, 1e-5) for x in f[k])
        out.append(f)
        if rng.random() < dup:
            out.append(list(f))
        if rng.random() < degenerate:
            out.append([f[0], f[0], f[1]])
    for _ in range(debris):
        base = (far + rng.uniform(0, 5), rng.uniform(-5, 5), rng.uniform(-5, 5))
        out.append([base, (base[0] + 0.01, base[1], base[2]), (base[0], base[1] + 0.01, base[2])])
    rng.shuffle(out)
    return out


def write_stl(path, facets):
    with open(path, "wb") as fh:
        fh.write(b"amsp repair benchmark model".ljust(80, b" "))
        fh.write(struct.pack("<I", len(facets)))
        buf = array("f")
        for a, b, c in facets:
            buf.extend((0.0, 0.0, 0.0, *a, *b, *c))
            if len(buf) >= 12 * 4096:
                flush(fh, buf)
                buf = array("f")
        flush(fh, buf)


def flush(fh, buf):
    raw = buf.tobytes() if sys.byteorder == "little" else swap(buf)
    for k in range(0, len(raw), 48):
        fh.write(raw[k:k + 48])
        fh.write(b"\0\0")


def swap(buf):
    b = array("f", buf)
    b.byteswap()
    return b.tobytes()


def main():
    out = sys.argv[1]
    rows = []
    # 1. Sphere, 400k facets: 30 small holes, 2 % flipped, 1 % duplicates, 0.5 % degenerate,
    #    1 % unwelded corners, 40 debris facets.
    rng = random.Random(1)
    v, t = uv_sphere(50.0, 400, 500)
    vol = volume(v, t)
    f = punch_holes(soup(v, t), rng, 30, 1.2)
    f = damage(f, rng, flip=0.02, dup=0.01, degenerate=0.005, jitter=0.01, debris=40, far=120.0)
    write_stl(f"{out}/sphere-holes.stl", f)
    rows.append(("sphere-holes", len(f), vol))
    # 2. Torus, 640k facets, entirely inside out, with 60 holes, 1 % flipped, 1 % duplicates,
    #    and a separate small sphere (a real second body, kept).
    rng = random.Random(2)
    v, t = torus(40.0, 12.0, 800, 400)
    t = [(a, c, b) for a, b, c in t]
    vol = -volume(v, t)
    f = punch_holes(soup(v, t), rng, 60, 0.8)
    sv, st = uv_sphere(5.0, 40, 80)
    sv = [(x + 70.0, y, z) for x, y, z in sv]
    vol += volume(sv, st)
    f += soup(sv, st)
    f = damage(f, rng, flip=0.01, dup=0.01, degenerate=0.002, jitter=0.0, debris=100, far=90.0)
    write_stl(f"{out}/torus-inverted.stl", f)
    rows.append(("torus-inverted", len(f), vol))
    with open(f"{out}/expected.tsv", "w") as fh:
        for name, n, vol in rows:
            fh.write(f"{name}\t{n}\t{vol:.6f}\n")


if __name__ == "__main__":
    main()
