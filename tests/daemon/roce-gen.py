#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A minimal RoCEv2 traffic source for the namespace tests: UDP datagrams
to port 4791 that start with a valid BTH (RC SEND Only, opcode 0x04), sent
at a fixed rate. The XDP and tc programs account them as RoCE; nothing
answers them. Bounded: it stops after --seconds and never exceeds --rate.
"""
import argparse
import errno
import socket
import struct
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dst")
    ap.add_argument("--rate", type=float, required=True, help="bits per second (IP payload)")
    ap.add_argument("--size", type=int, default=1024, help="UDP payload bytes")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--qp", type=int, default=0x11)
    a = ap.parse_args()

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    # A socket buffer larger than the pacer's queue: the offered load then
    # reaches tc egress (where the sender measures) and the HTB queue, not
    # a full socket buffer, holds the excess, as with a NIC's QP.
    try:
        s.setsockopt(socket.SOL_SOCKET, 32, 8 << 20)  # SO_SNDBUFFORCE (root)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    pps = a.rate / (8 * a.size)
    tick = 0.002
    per_tick = pps * tick
    psn = 0
    owed = 0.0
    end = time.monotonic() + a.seconds
    nxt = time.monotonic()
    pad = bytes(a.size - 12 - 4) + b"\0\0\0\0"  # payload, then the ICRC
    while time.monotonic() < end:
        owed += per_tick
        while owed >= 1:
            owed -= 1
            # BTH: opcode, SE/M/pad/tver, P_Key, reserved, dest QP, A/reserved, PSN
            bth = struct.pack("!BBHII", 0x04, 0x00, 0xFFFF, a.qp & 0xFFFFFF, psn & 0xFFFFFF)
            psn += 1
            try:
                s.sendto(bth + pad, (a.dst, 4791))
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.ENOBUFS, errno.ECONNREFUSED):
                    raise
        nxt += tick
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()


if __name__ == "__main__":
    main()
