#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The one fixture table of tita's BPF tests.

Every frame is built with scapy (an encoder independent of tita's parsers),
and carries what the parser must conclude about it. The table is written as
a pcap (the frames) and a TSV (the expectations, one line per frame, in the
same order). Three judges then read the same frames: the XDP program under
BPF_PROG_TEST_RUN, the lib/ twin parser, and tshark dissecting the pcap
(tests/bpf/test_fixtures.c). The tc program runs over them too.

usage: fixtures.py OUT.pcap OUT.tsv
Needs Debian's python3-scapy (run with /usr/bin/python3).
"""
import logging
import sys

# scapy warns that it computes no ICRC over IPv6; tita does not read it.
logging.getLogger("scapy").setLevel(logging.ERROR)

try:
    from scapy.all import (ARP, Dot1AD, Dot1Q, Ether, ICMP, IP, IPOption_NOP,
                           IPOption_RR, IPv6, IPv6ExtHdrDestOpt,
                           IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                           IPv6ExtHdrRouting, Raw, RawPcapWriter, TCP, UDP)
    from scapy.contrib.roce import AETH, BTH, cnp
except ImportError as e:  # a clear message, not a traceback
    sys.exit(f"fixtures.py: needs scapy ({e}); install python3-scapy and run "
             "with /usr/bin/python3")

# Mirrors bpf/tita_shared.h (the C side checks the names, not the numbers).
REASONS = ["roce", "not_ip", "not_udp", "not_roce_port", "trunc_eth",
           "trunc_vlan", "trunc_ipv4", "trunc_ipv6", "trunc_ipv6_ext",
           "trunc_udp", "trunc_bth", "ip_fragment", "bad_opcode", "bad_ip",
           "vlan_depth", "ipv6_ext_depth"]
IPV6_MAX_EXT = 6

MAC = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
A4, B4, C4 = "10.0.0.1", "10.0.0.2", "10.0.0.3"
A6, B6 = "fd00::1", "fd00::2"
ECN = {"not_ect": 0, "ect1": 1, "ect0": 2, "ce": 3}
DSCP_ROCE = 26 << 2  # the usual RoCE traffic class, so ECN must be masked out

rows = []  # (name, frame bytes, expectation dict)


def add(name, pkt, reason, vlans=0, l3=0, src="-", dst="-", ecn=0,
        opcode=None, qp=None, psn=None):
    frame = bytes(pkt) if not isinstance(pkt, (bytes, bytearray)) else bytes(pkt)
    assert reason in REASONS, reason
    rows.append((name, frame, dict(reason=reason, vlans=vlans, l3=l3, src=src,
                                   dst=dst, ecn=ecn, opcode=opcode, qp=qp,
                                   psn=psn)))


def roce(name, l3, opcode, qp, psn, ecn="not_ect", vlan=(), payload=b"",
         extra=None, src=None, dst=None, ip_options=None, v6_ext=None,
         reason="roce", sport=49152):
    """A RoCEv2 frame. vlan: tuple of (ethertype class, vid) outer first."""
    eth = Ether(**MAC)
    l2 = eth
    for cls, vid in vlan:
        l2 = l2 / cls(vlan=vid)
    tos = DSCP_ROCE | ECN[ecn]
    if l3 == 4:
        s, d = src or A4, dst or B4
        ip = IP(src=s, dst=d, tos=tos, flags="DF")
        if ip_options:
            ip.options = ip_options
    else:
        s, d = src or A6, dst or B6
        ip = IPv6(src=s, dst=d, tc=tos)
        for h in v6_ext or ():
            ip = ip / h
    bth = BTH(opcode=opcode, dqpn=qp, psn=psn)
    if extra is not None:
        bth = bth / extra
    pkt = l2 / ip / UDP(sport=sport, dport=4791) / bth / Raw(payload)
    add(name, pkt, reason, vlans=len(vlan), l3=l3, src=s, dst=d, ecn=ECN[ecn],
        opcode=opcode, qp=qp, psn=psn)
    return bytes(pkt)


# RC, UC, UD and CNP over IPv4, every ECN codepoint.
roce("v4_rc_send_only", 4, 0x04, 0x000011, 100, "not_ect", payload=b"s" * 64)
roce("v4_rc_send_first", 4, 0x00, 0x000011, 101, "ect0", payload=b"s" * 256)
roce("v4_rc_send_middle", 4, 0x01, 0x000011, 102, "ect0", payload=b"s" * 256)
roce("v4_rc_send_last", 4, 0x02, 0x000011, 103, "ect0", payload=b"s" * 16)
roce("v4_rc_write_first_ect1", 4, 0x06, 0x000a11, 0x123456, "ect1",
     extra=Raw(b"\0" * 16), payload=b"w" * 512)
roce("v4_rc_write_middle_ce", 4, 0x07, 0x000a11, 0x123457, "ce", payload=b"w" * 512)
roce("v4_rc_write_last_ce", 4, 0x08, 0x000a11, 0x123458, "ce", payload=b"w" * 100)
roce("v4_rc_write_only_ect0", 4, 0x0a, 0xffffff, 0xffffff, "ect0",
     extra=Raw(b"\0" * 16), payload=b"w" * 32)
roce("v4_rc_read_request", 4, 0x0c, 0x000b22, 7, "ect0", extra=Raw(b"\0" * 16))
roce("v4_rc_read_response_only", 4, 0x10, 0x000c33, 7, "ect0",
     extra=AETH(syndrome=0, msn=1), payload=b"r" * 128)
roce("v4_rc_ack", 4, 0x11, 0x000c33, 8, "not_ect", extra=AETH(syndrome=0, msn=2))
roce("v4_uc_send_only", 4, 0x24, 0x000d44, 9, "ect1", payload=b"u" * 40)
roce("v4_ud_send_only", 4, 0x64, 0x000001, 10, "ect0",
     extra=Raw(b"\x00\x00\x00\x11\x00\x00\x00\x02"), payload=b"d" * 40)
# A CNP (scapy's cnp(): opcode 0x81, BECN, 16 reserved bytes), from another
# source, twice, to check the per-QP counters add up.
for i in range(2):
    p = Ether(**MAC) / IP(src=C4, dst=B4, tos=(48 << 2) | 0) / UDP(sport=49153, dport=4791) / cnp(0x000a11)
    add(f"v4_cnp_{i}", p, "roce", l3=4, src=C4, dst=B4, ecn=0, opcode=0x81,
        qp=0x000a11, psn=0)

# IPv6, including extension headers (followed, bounded) and an atomic
# fragment (RFC 6946: offset 0 and M clear is a whole datagram).
roce("v6_rc_write_only_ce", 6, 0x0a, 0x000a11, 55, "ce", extra=Raw(b"\0" * 16),
     payload=b"6" * 64)
roce("v6_rc_send_only_ect0", 6, 0x04, 0x000012, 56, "ect0", payload=b"6" * 8)
# A flow label shares a byte with the traffic class's ECN bits.
p = (Ether(**MAC) / IPv6(src=A6, dst=B6, tc=DSCP_ROCE | ECN["ce"], fl=0xfb307) /
     UDP(sport=49152, dport=4791) / BTH(opcode=0x04, dqpn=0x12, psn=62) / Raw(b"l" * 8))
add("v6_flowlabel_ce", p, "roce", l3=6, src=A6, dst=B6, ecn=ECN["ce"], opcode=0x04,
    qp=0x12, psn=62)
roce("v6_ud_send_only_ect1", 6, 0x64, 0x000001, 57, "ect1",
     extra=Raw(b"\x00\x00\x00\x11\x00\x00\x00\x02"), payload=b"6" * 8)
roce("v6_ext_hbh_dst_routing", 6, 0x04, 0x000013, 58, "ect0",
     v6_ext=(IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(), IPv6ExtHdrRouting()),
     payload=b"e" * 8)
roce("v6_ext_atomic_fragment", 6, 0x04, 0x000013, 59, "not_ect",
     v6_ext=(IPv6ExtHdrFragment(offset=0, m=0, id=7),), payload=b"a" * 8)
roce(f"v6_ext_{IPV6_MAX_EXT}_dstopts", 6, 0x04, 0x000013, 60, "ect0",
     v6_ext=tuple(IPv6ExtHdrDestOpt() for _ in range(IPV6_MAX_EXT)), payload=b"x" * 8)
roce(f"v6_ext_{IPV6_MAX_EXT + 1}_dstopts", 6, 0x04, 0x000013, 61, "ect0",
     v6_ext=tuple(IPv6ExtHdrDestOpt() for _ in range(IPV6_MAX_EXT + 1)),
     payload=b"x" * 8, reason="ipv6_ext_depth")

# VLAN and QinQ.
roce("vlan_v4_rc_send_only", 4, 0x04, 0x000021, 1, "ce", vlan=((Dot1Q, 100),),
     payload=b"v" * 32)
roce("qinq_v4_rc_write_middle", 4, 0x07, 0x000022, 2, "ect0",
     vlan=((Dot1AD, 10), (Dot1Q, 100)), payload=b"q" * 32)
roce("qinq_v6_ud_send_only", 6, 0x64, 0x000023, 3, "ect1",
     vlan=((Dot1AD, 10), (Dot1Q, 100)), extra=Raw(b"\x00" * 8), payload=b"q" * 8)
add("vlan_depth_3", Ether(**MAC) / Dot1AD(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) /
    IP(src=A4, dst=B4) / UDP(dport=4791) / BTH(opcode=4, dqpn=1, psn=1),
    "vlan_depth", vlans=2)

# IPv4 options.
roce("v4_options_rr", 4, 0x0a, 0x000031, 4, "ect0", ip_options=[IPOption_RR()],
     extra=Raw(b"\0" * 16), payload=b"o" * 16)
roce("v4_options_nop_pad", 4, 0x04, 0x000031, 5, "ce",
     ip_options=[IPOption_NOP()] * 4, payload=b"o" * 16)

# Unknown BTH opcodes: parsed, but not accounted.
roce("v4_rc_reserved_opcode", 4, 0x15, 0x000041, 6, "ect0", payload=b"?" * 8,
     reason="bad_opcode")
roce("v4_vendor_opcode", 4, 0xe0, 0x000041, 7, "ect0", payload=b"?" * 8,
     reason="bad_opcode")
roce("v4_rd_opcode", 4, 0x44, 0x000041, 8, "ect0", payload=b"?" * 8,
     reason="bad_opcode")

# Not RoCEv2.
add("v4_udp_dns", Ether(**MAC) / IP(src=A4, dst=B4, tos=2) / UDP(sport=4791, dport=53) /
    Raw(b"\0" * 12), "not_roce_port", l3=4, src=A4, dst=B4, ecn=2)
add("v6_udp_other", Ether(**MAC) / IPv6(src=A6, dst=B6, tc=1) / UDP(sport=1, dport=4790) /
    Raw(b"\0" * 12), "not_roce_port", l3=6, src=A6, dst=B6, ecn=1)
add("v4_tcp", Ether(**MAC) / IP(src=A4, dst=B4, tos=3) / TCP(sport=1, dport=4791),
    "not_udp", l3=4, src=A4, dst=B4, ecn=3)
add("v6_tcp", Ether(**MAC) / IPv6(src=A6, dst=B6) / TCP(sport=1, dport=4791),
    "not_udp", l3=6, src=A6, dst=B6, ecn=0)
add("v4_icmp", Ether(**MAC) / IP(src=A4, dst=B4) / ICMP(), "not_udp", l3=4, src=A4,
    dst=B4, ecn=0)
add("arp", Ether(src=MAC["src"], dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=A4, pdst=B4),
    "not_ip")
add("vlan_arp", Ether(src=MAC["src"], dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=5) /
    ARP(psrc=A4, pdst=B4), "not_ip", vlans=1)

# Fragments: never reassembled, never accounted.
add("v4_fragment_first", Ether(**MAC) / IP(src=A4, dst=B4, tos=2, flags="MF", id=9) /
    UDP(sport=1, dport=4791) / BTH(opcode=4, dqpn=1, psn=1) / Raw(b"f" * 64),
    "ip_fragment", l3=4, src=A4, dst=B4, ecn=2)
add("v4_fragment_last", Ether(**MAC) / IP(src=A4, dst=B4, tos=2, frag=185, id=10, proto=17) /
    Raw(b"f" * 64), "ip_fragment", l3=4, src=A4, dst=B4, ecn=2)
add("v6_fragment_first", Ether(**MAC) / IPv6(src=A6, dst=B6, tc=2) /
    IPv6ExtHdrFragment(offset=0, m=1, id=11) / UDP(sport=1, dport=4791) /
    BTH(opcode=4, dqpn=1, psn=1) / Raw(b"f" * 64),
    "ip_fragment", l3=6, src=A6, dst=B6, ecn=2)

# Malformed IP.
bad_ihl = bytearray(bytes(Ether(**MAC) / IP(src=A4, dst=B4) / UDP(dport=4791) / Raw(b"\0" * 20)))
bad_ihl[14] = 0x44  # IHL 4
add("v4_ihl_4", bad_ihl, "bad_ip")
bad_v = bytearray(bytes(Ether(**MAC) / IPv6(src=A6, dst=B6) / UDP(dport=4791) / Raw(b"\0" * 20)))
bad_v[14] = 0x40 | (bad_v[14] & 0x0f)  # version 4 in an IPv6 ethertype
add("v6_version_4", bad_v, "bad_ip")

# Truncated at every header boundary (and inside each header): cut one
# VLAN-tagged IPv4 frame with options, and one IPv6 frame with an extension
# header, at each offset below.
full4 = roce("trunc_src_v4", 4, 0x0a, 0x000051, 77, "ect0", vlan=((Dot1Q, 7),),
             ip_options=[IPOption_NOP()] * 4, extra=Raw(b"\0" * 16), payload=b"t" * 40)
eth, vl, ip4, udp, bth = 14, 4, 24, 8, 12
cuts4 = [
    (10, "trunc_eth", {}),  # a runt: only the twin and tshark judge it
    (eth, "trunc_vlan", {}),
    (eth + 2, "trunc_vlan", {}),
    (eth + vl, "trunc_ipv4", dict(vlans=1)),
    (eth + vl + 10, "trunc_ipv4", dict(vlans=1)),
    (eth + vl + 20, "trunc_ipv4", dict(vlans=1)),  # fixed header, options cut
    (eth + vl + ip4, "trunc_udp", dict(vlans=1, l3=4)),
    (eth + vl + ip4 + 4, "trunc_udp", dict(vlans=1, l3=4)),
    (eth + vl + ip4 + udp, "trunc_bth", dict(vlans=1, l3=4)),
    (eth + vl + ip4 + udp + 6, "trunc_bth", dict(vlans=1, l3=4)),
    (eth + vl + ip4 + udp + bth - 1, "trunc_bth", dict(vlans=1, l3=4)),
    (eth + vl + ip4 + udp + bth, "roce", dict(vlans=1, l3=4, bth=True)),
]
full6 = roce("trunc_src_v6", 6, 0x04, 0x000052, 78, "ce",
             v6_ext=(IPv6ExtHdrDestOpt(),), payload=b"t" * 40)
ip6, ext = 40, 8
cuts6 = [
    (eth, "trunc_ipv6", {}),
    (eth + 20, "trunc_ipv6", {}),
    (eth + ip6, "trunc_ipv6_ext", dict(l3=6)),
    (eth + ip6 + 4, "trunc_ipv6_ext", dict(l3=6)),
    (eth + ip6 + ext, "trunc_udp", dict(l3=6)),
    (eth + ip6 + ext + udp, "trunc_bth", dict(l3=6)),
    (eth + ip6 + ext + udp + bth, "roce", dict(l3=6, bth=True)),
]
for full, cuts, l3, src, dst, ecn, op, qp, psn in (
        (full4, cuts4, 4, A4, B4, ECN["ect0"], 0x0a, 0x000051, 77),
        (full6, cuts6, 6, A6, B6, ECN["ce"], 0x04, 0x000052, 78)):
    for cut, reason, kw in cuts:
        exp = dict(vlans=kw.get("vlans", 0))
        if kw.get("l3"):
            exp.update(l3=l3, src=src, dst=dst, ecn=ecn)
        if kw.get("bth"):
            exp.update(opcode=op, qp=qp, psn=psn)
        add(f"cut_v{l3}_{cut}", full[:cut], reason, **exp)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    pcap, tsv = sys.argv[1], sys.argv[2]
    names = set()
    # Raw bytes as they are (runts included), link type Ethernet.
    with RawPcapWriter(pcap, linktype=1, sync=True) as w:
        for _, frame, _ in rows:
            w.write(frame)
    with open(tsv, "w") as out:
        out.write("# name\tlen\treason\tvlans\tl3\tsrc\tdst\tecn\topcode\tdst_qp\tpsn\n")
        for name, frame, e in rows:
            assert name not in names, name
            names.add(name)
            opt = lambda v: "-" if v is None else str(v)
            out.write("\t".join([name, str(len(frame)), e["reason"], str(e["vlans"]),
                                 str(e["l3"]), e["src"], e["dst"], str(e["ecn"]),
                                 opt(e["opcode"]), opt(e["qp"]), opt(e["psn"])]) + "\n")


if __name__ == "__main__":
    main()
