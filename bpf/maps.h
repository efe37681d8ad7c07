/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Every map of tita's datapath, in one place (Katran's balancer_maps.h).
 * Each *.bpf.c entry file includes this header; the definitions are weak,
 * so `bpftool gen object` links the entry files into one object with one
 * instance of each map. Maps marked LIBBPF_PIN_BY_NAME are the counters a
 * restarted daemon must find again: the loader opens the object with
 * pin_root_path = <pin root>/<ifname>, and libbpf reuses what is pinned
 * there. The queue sampler's state is per interval and is not pinned.
 *
 * Table sizes here are defaults; the loader may resize the tables with
 * bpf_map__set_max_entries() between open and load.
 */
#ifndef TITA_BPF_MAPS_H
#define TITA_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "tita_shared.h"

/* Receive side (XDP): per (source, destination QP), IPv4 and IPv6 apart so
 * that the common IPv4 key hashes 8 bytes instead of 20. User space sums a
 * source's QPs into its per-peer sample. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, TITA_RX_QP4_ENTRIES);
	__type(key, struct tita_qp4_key);
	__type(value, struct tita_rx_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tita_rx_qp4 SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, TITA_RX_QP6_ENTRIES);
	__type(key, struct tita_qp6_key);
	__type(value, struct tita_rx_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tita_rx_qp6 SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TITA_REASON_MAX);
	__type(key, __u32);
	__type(value, struct tita_reason_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tita_rx_reason SEC(".maps") __weak;

/* The PSN expected next per (source, destination QP), for the
 * out-of-sequence count (bpf/psn.h). Not pinned: a restarted daemon's
 * first packet of each QP only resynchronizes. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TITA_RX_QP4_ENTRIES);
	__type(key, struct tita_qp4_key);
	__type(value, struct tita_rx_psn);
} tita_rx_psn4 SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TITA_RX_QP6_ENTRIES);
	__type(key, struct tita_qp6_key);
	__type(value, struct tita_rx_psn);
} tita_rx_psn6 SEC(".maps") __weak;

/* Transmit side (tc egress): per destination, and the pacer's classes. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, TITA_TX_PEER_ENTRIES);
	__type(key, struct tita_peer_key);
	__type(value, struct tita_tx_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tita_tx_peer SEC(".maps") __weak;

/* Filled by the daemon's tc pacer, never by BPF: a plain hash, so an entry
 * stays until the pacer removes it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TITA_TX_CLASS_ENTRIES);
	__type(key, struct tita_peer_key);
	__type(value, struct tita_tx_class);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tita_tx_class SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TITA_REASON_MAX);
	__type(key, __u32);
	__type(value, struct tita_reason_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tita_tx_reason SEC(".maps") __weak;

/* Queue sampler (qdisc dequeue tracepoint): per TX queue of the device. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TITA_QUEUE_MAX_TXQ);
	__type(key, __u32);
	__type(value, struct tita_queue_state);
} tita_queue SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TITA_QSTAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tita_queue_stat SEC(".maps") __weak;

/* GPL-compatible, as the helpers the programs call require. */
char LICENSE[] SEC("license") __weak = "Dual MIT/GPL";

#endif /* TITA_BPF_MAPS_H */
