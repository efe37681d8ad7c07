#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of the wire fuzzer (tests/fuzz/fuzz_wire.c).

The datagrams are built here from the format in proto/peer.proto with
Python's standard library only (a hand-written protobuf encoder and
hashlib's keyed BLAKE2b), independently of the C codec; test_wire.c's
known-answer test holds one of them (--c-vector prints it) and checks that
the C decoder accepts it and the C encoder makes the same bytes.

Every corpus file starts with the harness's mode byte:
  0 raw     the rest is a datagram, decoded as it is
  1 body    the rest is a protobuf body; the harness adds header and MAC
  2 sealed  the rest is header + body; the harness appends a valid MAC
  3 replay  the rest is 3-byte steps (flags/boot, seq high, seq low) run
            through one replay window and checked against a model
Bit 2 of the mode byte (modes 0-2) makes the harness check the origin
against 10.0.0.1. Bits 4-5 pick which replay/key variant to use; see the
harness for details.

Usage: gen-corpus-wire.py OUTDIR [--c-vector]
"""
import hashlib
import os
import struct
import sys

KEY = bytes(range(32))  # the fuzz harness's and test_wire.c's key id 1
KEY_ID = 1
BOOT = 0x1122334455667788
MAX_BYTES = 1400

MODE_RAW, MODE_BODY, MODE_SEALED, MODE_REPLAY = 0, 1, 2, 3
FROM_CHECK = 0x04


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(field, wire_type):
    return varint(field << 3 | wire_type)


def f_varint(field, v, keep_zero=False):
    if v == 0 and not keep_zero:
        return b""
    return tag(field, 0) + varint(v)


def f_double(field, v, keep_zero=False):
    if v == 0 and not keep_zero and str(v) != "-0.0":
        return b""
    return tag(field, 1) + struct.pack("<d", v)


def f_bytes(field, b, keep_empty=False):
    if not b and not keep_empty:
        return b""
    return tag(field, 2) + varint(len(b)) + b


def ip4(*octets):
    return bytes(octets)


def ip6(last):
    return bytes([0xFD, 0x00, 0x74, 0x69, 0x74, 0x61] + [0] * 8) + struct.pack(">H", last)


A, B = ip4(10, 0, 0, 1), ip4(10, 0, 0, 2)


def demand_entry(s=A, r=B, job=7, weight=None, demand=25e9, mn=0.0, mx=0.0, spine=None,
                 room=0, seek=0, unsched=0):
    e = f_bytes(1, s) + f_bytes(2, r) + f_varint(3, job)
    if weight is not None:
        e += f_double(4, weight, keep_zero=True)
    e += f_double(5, demand) + f_double(6, mn) + f_double(7, mx)
    if spine is not None:
        e += f_varint(8, spine, keep_zero=True)
    return e + f_varint(9, room) + f_varint(10, seek) + f_varint(11, unsched)


def grant_entry(s=A, r=B, job=7, rate=25e9, ttl=10_000_000, ce=100, room=0, move=0, swap=0,
                spine=None, share=0.0, limit=None, hold=0):
    e = (f_bytes(1, s) + f_bytes(2, r) + f_varint(3, job) + f_double(4, rate) +
         f_varint(5, ttl) + f_varint(6, ce) + f_varint(7, room) + f_varint(8, move) +
         f_varint(9, swap))
    if spine is not None:
        e += f_varint(10, spine, keep_zero=True)
    e += f_double(11, share)
    if limit is not None:
        e += f_varint(12, limit, keep_zero=True)
    return e + f_varint(13, hold)


def port(addr, rate, leaf=None, n_spines=0, spine_bps=0.0):
    p = f_bytes(1, addr) + f_double(2, rate)
    if leaf is not None:
        p += f_varint(3, leaf, keep_zero=True)
    return p + f_varint(4, n_spines) + f_double(5, spine_bps)


ANY_LEAF = 0xFFFFFFFE


def leaf_line(direction=1, spine=3, remote=5, job=7, weight=None, demand=40e9, move=0.0,
              move_to=None, room=0, cap=0.0, swap=0, move_cap=0.0, any_leaf=0, n_pairs=0):
    e = f_varint(1, direction) + f_varint(2, spine) + f_varint(3, remote) + f_varint(4, job)
    if weight is not None:
        e += f_double(5, weight, keep_zero=True)
    e += f_double(6, demand) + f_double(7, move)
    if move_to is not None:
        e += f_varint(8, move_to, keep_zero=True)
    return (e + f_varint(9, room) + f_double(10, cap) + f_varint(11, swap) +
            f_double(12, move_cap) + f_varint(13, any_leaf) + f_varint(14, n_pairs))


def leaf_report(lines, leaf=4, member=A):
    r = f_varint(1, leaf) + f_bytes(2, member) + b"".join(f_bytes(3, l, True) for l in lines)
    return f_bytes(4, r, True)


def leaf_answer(lines, leaf=4, member=A, ttl=10_000_000, up=0xF0F0, down=0x0F0F):
    r = (f_varint(1, leaf) + f_bytes(2, member) + f_varint(3, ttl) + f_varint(4, up) +
         f_varint(5, down) + b"".join(f_bytes(6, l, True) for l in lines))
    return f_bytes(5, r, True)


def demand(*entries):
    return f_bytes(2, b"".join(f_bytes(1, e, True) for e in entries), True)


def grant(*entries):
    return f_bytes(3, b"".join(f_bytes(1, e, True) for e in entries), True)


def hello(ports, interval=50_000, ttl=20_000_000):
    h = b"".join(f_bytes(1, p, True) for p in ports) + f_varint(2, interval) + f_varint(3, ttl)
    return f_bytes(1, h, True)


def header(key_id=KEY_ID, boot=BOOT, seq=1, magic=b"TITA", version=2, flags=0):
    """Version 2: a 4-byte sequence; version 1 (and any other): 8 bytes."""
    if version == 2:
        return magic + struct.pack(">BBIQI", version, flags, key_id, boot, seq)
    return magic + struct.pack(">BBIQQ", version, flags, key_id, boot, seq)


def mac(data, key=KEY, version=2):
    """Keyed BLAKE2b-128; version 2 sends its first 8 bytes."""
    tag = hashlib.blake2b(data, key=key, digest_size=16).digest()
    return tag[:8] if version == 2 else tag


def datagram(body, key=KEY, **hdr):
    signed = header(**hdr) + body
    return signed + mac(signed, key, hdr.get("version", 2))


def known_demand(version=2):
    """The known-answer vectors of test_wire.c: version 2 leaves the sender,
    the datagram's origin, out of each entry."""
    s = b"" if version == 2 else A
    body = demand(demand_entry(s=s, job=7, demand=25e9),
                  demand_entry(s=s, job=8, weight=2.5, demand=40e9, mn=1e9, mx=50e9))
    return datagram(body, seq=42, version=version)


def replay_steps(steps):
    out = bytearray()
    for flags_boot, seq in steps:
        out += bytes([flags_boot]) + struct.pack(">H", seq)
    return bytes(out)


def corpus():
    c = {}
    d8 = demand(*[demand_entry(job=j, weight=(None if j % 2 else 0.5 + j), demand=1e9 * j,
                               mx=2e9 * j) for j in range(1, 9)])
    g8 = grant(*[grant_entry(job=j, rate=3e9 * j, ce=j * 1000) for j in range(8)])
    d6 = demand(demand_entry(s=ip6(1), r=ip6(2)), demand_entry(s=ip6(1), r=ip6(2), job=9))
    g6 = grant(grant_entry(s=ip6(1), r=ip6(2), job=3, ttl=60_000_000_000))
    h = hello([port(A, 100e9), port(ip6(7), 400e9)])
    full = demand(*[demand_entry(job=j, weight=1.5, demand=1e9 + j, mn=1e6, mx=9e9)
                    for j in range(25)])
    ds = demand(demand_entry(spine=0), demand_entry(job=9, spine=63, room=0xFFFF, seek=1))
    gm = grant(grant_entry(room=0x8000000000000001, move=1, swap=1, spine=0),
               grant_entry(job=9, room=6, spine=63, share=98e9))
    hp = hello([port(A, 100e9, leaf=0, n_spines=16, spine_bps=100e9),
                port(ip6(7), 400e9, leaf=4294967293, n_spines=64, spine_bps=800e9)])
    lr = leaf_report([leaf_line(), leaf_line(direction=2, spine=0, remote=ANY_LEAF, job=0,
                                             weight=2.0, demand=1e9),
                      leaf_line(spine=63, move=95e9, room=0xFFFF)])
    la = leaf_answer([leaf_line(cap=33e9, move=95e9, move_to=2, swap=1, room=0xC),
                      leaf_line(direction=2, remote=ANY_LEAF, cap=1e9),
                      leaf_line(direction=2, cap=49e9, move=95e9, move_to=5, move_cap=98e9)])
    l64 = leaf_report([leaf_line(spine=j % 64, job=j) for j in range(64)], member=ip6(3))

    valid = {
        "demand-v4": d8, "grant-v4": g8, "demand-v6": d6, "grant-v6": g6, "hello": h,
        "demand-full": full, "demand-spine": ds, "grant-move": gm, "hello-place": hp,
        "leaf-report": lr, "leaf-answer": la, "leaf-report-64": l64,
    }
    for name, body in valid.items():
        c["raw-" + name] = bytes([MODE_RAW]) + datagram(body)
        c["body-" + name] = bytes([MODE_BODY]) + body
        c["sealed-" + name] = bytes([MODE_SEALED]) + header() + body
    c["raw-demand-v4-from"] = bytes([MODE_RAW | FROM_CHECK]) + datagram(d8)
    c["raw-grant-v4-from"] = bytes([MODE_RAW | FROM_CHECK]) + datagram(g8)
    c["raw-leaf-report-from"] = bytes([MODE_RAW | FROM_CHECK]) + datagram(lr)
    c["raw-leaf-report-other"] = bytes([MODE_RAW | FROM_CHECK]) + datagram(
        leaf_report([leaf_line()], member=B))
    c["raw-leaf-answer-from"] = bytes([MODE_RAW | FROM_CHECK]) + datagram(la)
    c["raw-known-answer"] = bytes([MODE_RAW]) + known_demand()
    # Version 1, still decoded: 8-byte sequence, 16-byte MAC.
    c["raw-known-answer-v1"] = bytes([MODE_RAW]) + known_demand(version=1)
    c["raw-v1-leaf-answer"] = bytes([MODE_RAW]) + datagram(la, version=1)
    c["raw-v1-trunc-mac"] = bytes([MODE_RAW]) + datagram(d8, version=1)[:-8]
    # Version 2 leaves the origin's own address out (a demand's sender, a
    # grant's receiver, a report's member); the harness's origin check mode
    # says where it came from. In version 1 the same is a bad address.
    d_no = demand(*[demand_entry(s=b"", job=j, demand=1e9 * j) for j in range(1, 4)])
    g_no = grant(*[grant_entry(s=B, r=b"", job=j, rate=3e9 * j) for j in range(3)])
    lr_no = leaf_report([leaf_line(), leaf_line(spine=63, move=95e9, room=0xFFFF)], member=b"")
    # A line of any leaf as a flag (version 2's encoder), and the flag
    # beside an id (refused).
    la_any = leaf_answer([leaf_line(direction=2, remote=0, any_leaf=1, cap=1e9),
                          leaf_line(direction=1, remote=0, any_leaf=1, cap=2e9, demand=0)])
    la_both = leaf_answer([leaf_line(direction=2, remote=5, any_leaf=1, cap=1e9)])
    c["raw-leaf-answer-any-flag"] = bytes([MODE_RAW]) + datagram(la_any)
    c["body-leaf-answer-any-flag"] = bytes([MODE_BODY]) + la_any
    c["body-leaf-answer-any-and-id"] = bytes([MODE_BODY]) + la_both
    # Lines of any leaf telling the small pairs they sum (one is left out).
    lr_pairs = leaf_report([leaf_line(remote=0, any_leaf=1, n_pairs=23),
                            leaf_line(direction=2, remote=0, any_leaf=1, n_pairs=1 << 20)],
                           member=b"")
    c["raw-leaf-report-pairs"] = bytes([MODE_RAW]) + datagram(lr_pairs)
    c["body-leaf-report-pairs"] = bytes([MODE_BODY]) + lr_pairs
    for name, body in (("demand-no-origin", d_no), ("grant-no-origin", g_no),
                       ("leaf-report-no-origin", lr_no)):
        c["raw-" + name] = bytes([MODE_RAW]) + datagram(body)
        c["raw-" + name + "-from"] = bytes([MODE_RAW | FROM_CHECK]) + datagram(body)
        c["raw-v1-" + name] = bytes([MODE_RAW | FROM_CHECK]) + datagram(body, version=1)

    # Framing errors.
    good = datagram(d8)
    for cut in (0, 3, 4, 5, 6, 9, 10, 17, 18, 21, 22, 23, 29, 30, len(good) - 1):
        c["raw-trunc-%02d" % cut] = bytes([MODE_RAW]) + good[:cut]
    c["raw-bad-mac"] = bytes([MODE_RAW]) + good[:-1] + bytes([good[-1] ^ 1])
    c["raw-bad-mac-body"] = bytes([MODE_RAW]) + good[:30] + bytes([good[30] ^ 0x40]) + good[31:]
    c["raw-bad-magic"] = bytes([MODE_RAW]) + b"TITB" + good[4:]
    c["raw-bad-version"] = bytes([MODE_RAW]) + datagram(d8, version=3)
    c["raw-bad-flags"] = bytes([MODE_RAW]) + datagram(d8, flags=1)
    c["raw-unknown-key"] = bytes([MODE_RAW]) + datagram(d8, key_id=9)
    c["raw-oversized"] = bytes([MODE_RAW]) + datagram(d8 + f_bytes(15, bytes(MAX_BYTES)))
    c["sealed-bad-magic"] = bytes([MODE_SEALED]) + header(magic=b"ATIT") + d8
    c["sealed-key-2"] = bytes([MODE_SEALED]) + header(key_id=2) + g8

    # Bodies the range checks reject (the harness seals them).
    bad = {
        "rate-negative": demand(demand_entry(demand=-1.0)),
        "rate-nan": demand(demand_entry(demand=float("nan"))),
        "rate-inf": grant(grant_entry(rate=float("inf"))),
        "rate-too-high": grant(grant_entry(rate=3.3e12)),
        "min-above-max": demand(demand_entry(mn=5e9, mx=4e9)),
        "weight-zero": demand(demand_entry(weight=0.0)),
        "weight-nan": demand(demand_entry(weight=float("nan"))),
        "weight-huge": demand(demand_entry(weight=1e6)),
        "ttl-zero": grant(grant_entry(ttl=0)),
        "ttl-long": grant(grant_entry(ttl=61_000_000_000)),
        "ce-ppm": grant(grant_entry(ce=1_000_001)),
        "addr-len": grant(grant_entry(s=b"\x0a\x00\x00")),
        "addr-mismatch": demand(demand_entry(), demand_entry(s=ip4(10, 0, 0, 9))),
        "self-pair": demand(demand_entry(r=A)),
        "no-entries": demand(),
        "too-many": grant(*[grant_entry(job=0, rate=0, ttl=1, ce=0)] * 65),
        "hello-no-ports": hello([]),
        "hello-rate-zero": hello([port(A, 0.0)]),
        "hello-interval": hello([port(A, 1e9)], interval=0),
        "empty": b"",
        "unknown-body": f_bytes(9, f_varint(1, 1)),
        "garbage": b"\xff" * 12,
        "complex": demand(*[b""] * 600),
        "demand-spine-64": demand(demand_entry(spine=64)),
        "grant-spine-64": grant(grant_entry(spine=64)),
        "grant-share-negative": grant(grant_entry(share=-1.0)),
        "demand-unsched": demand(demand_entry(unsched=37500),
                                 demand_entry(job=9, unsched=1 << 32)),
        "grant-unsched": grant(grant_entry(limit=0, hold=32000),
                               grant_entry(job=9, limit=1 << 32, hold=60_000_000_000)),
        "demand-unsched-range": demand(demand_entry(unsched=(1 << 32) + 1)),
        "grant-unsched-range": grant(grant_entry(limit=(1 << 32) + 1)),
        "grant-hold-range": grant(grant_entry(hold=60_000_000_001)),
        "hello-place-spines-0": hello([port(A, 1e9, leaf=3, n_spines=0, spine_bps=1e9)]),
        "hello-place-spines-65": hello([port(A, 1e9, leaf=3, n_spines=65, spine_bps=1e9)]),
        "hello-place-rate-0": hello([port(A, 1e9, leaf=3, n_spines=4)]),
        "hello-place-leaf-any": hello([port(A, 1e9, leaf=ANY_LEAF, n_spines=4,
                                            spine_bps=1e9)]),
        "hello-place-no-leaf": hello([port(A, 1e9, n_spines=4, spine_bps=1e9)]),
        "leaf-no-lines": leaf_report([]),
        "leaf-answer-no-lines": leaf_answer([]),
        "leaf-too-many": leaf_report([leaf_line()] * 65),
        "leaf-dir-0": leaf_report([leaf_line(direction=0)]),
        "leaf-dir-3": leaf_answer([leaf_line(direction=3)]),
        "leaf-spine-64": leaf_report([leaf_line(spine=64)]),
        "leaf-move-to-64": leaf_answer([leaf_line(move_to=64)]),
        "leaf-remote-none": leaf_report([leaf_line(remote=0xFFFFFFFF)]),
        "leaf-id-none": leaf_report([leaf_line()], leaf=0xFFFFFFFF),
        "leaf-id-any": leaf_answer([leaf_line()], leaf=ANY_LEAF),
        "leaf-member-len": leaf_report([leaf_line()], member=b"\x0a\x00"),
        "leaf-weight-zero": leaf_report([leaf_line(weight=0.0)]),
        "leaf-pairs-too-many": leaf_report([leaf_line(remote=0, any_leaf=1,
                                                      n_pairs=(1 << 20) + 1)]),
        "leaf-demand-nan": leaf_report([leaf_line(demand=float("nan"))]),
        "leaf-move-negative": leaf_report([leaf_line(move=-1.0)]),
        "leaf-cap-too-high": leaf_answer([leaf_line(cap=3.3e12)]),
        "leaf-move-cap-too-high": leaf_answer([leaf_line(direction=2, move=1e9, move_to=1,
                                                         move_cap=3.3e12)]),
        "leaf-move-cap-nan": leaf_answer([leaf_line(direction=2, move_cap=float("nan"))]),
        "leaf-answer-ttl-0": leaf_answer([leaf_line()], ttl=0),
        "leaf-answer-ttl-long": leaf_answer([leaf_line()], ttl=61_000_000_000),
    }
    for name, body in bad.items():
        c["body-" + name] = bytes([MODE_BODY]) + body

    # Replay sequences: steps are (flags | boot, seq); flag 0x80 forges the MAC.
    c["replay-inorder"] = bytes([MODE_REPLAY]) + replay_steps([(1, s) for s in range(10)])
    c["replay-dup"] = bytes([MODE_REPLAY]) + replay_steps([(1, 5), (1, 5), (1, 4), (1, 5)])
    c["replay-old"] = bytes([MODE_REPLAY]) + replay_steps([(1, 1000), (1, 10), (1, 600),
                                                           (1, 553), (1, 552), (1, 999)])
    c["replay-boot"] = bytes([MODE_REPLAY]) + replay_steps([(2, 50), (3, 1), (2, 51), (3, 1),
                                                            (4, 0), (3, 2)])
    c["replay-forged"] = bytes([MODE_REPLAY]) + replay_steps([(1, 5), (0x81, 6), (1, 6),
                                                              (0x85, 9000), (1, 7)])
    c["replay-wrap"] = bytes([MODE_REPLAY]) + replay_steps([(1, 65535), (1, 0), (1, 65000),
                                                            (1, 65534)])
    return c


def c_vector():
    out = []
    for name, version in (("known_demand", 2), ("known_demand_v1", 1)):
        v = known_demand(version)
        lines = []
        for i in range(0, len(v), 14):
            lines.append("\t" + " ".join("0x%02x," % b for b in v[i:i + 14]))
        out.append("static const uint8_t %s[%d] = {\n%s\n};" % (name, len(v), "\n".join(lines)))
    return "\n".join(out)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if "--c-vector" in sys.argv[1:]:
        print(c_vector())
        return
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(corpus().items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d inputs to %s" % (len(corpus()), out))


if __name__ == "__main__":
    main()
