/* SPDX-License-Identifier: MIT */
/*
 * libtita_bpf: loads tita's datapath onto one network device, keeps its
 * counters across daemon restarts, and reads them as plain per-peer
 * samples.
 *
 * One struct tita_bpf per device: the XDP ingress program, the tc egress
 * program (clsact, direct action) and, where the kernel has the BTF for it,
 * the qdisc dequeue sampler. Maps are pinned under <pin root>/<ifname>/
 * (default /sys/fs/bpf/tita/<ifname>/), so a restarted daemon finds its
 * counters again; XDP and tc stay attached when the handle is freed (the
 * programs keep counting while the daemon is down), and the sampler's link
 * is pinned too. tita_bpf_detach() removes all of it.
 *
 * What is "ours": the programs pinned in the device's pin directory. The
 * loader replaces an XDP program or tc filter only when it is the one
 * pinned there, and otherwise refuses (EBUSY), so it never removes someone
 * else's program; nor does it need CAP_SYS_ADMIN to tell.
 *
 * Errors: constructors return NULL and set errno, the others return a
 * negative errno; when opts->err_buf is set, a one-line reason is written
 * there. The library prints nothing; opts->log receives debug detail.
 *
 * Privileges: CAP_BPF + CAP_NET_ADMIN (+ CAP_PERFMON for the sampler), or
 * root; mounting bpffs when it is absent needs CAP_SYS_ADMIN.
 */
#ifndef TITA_BPF_H
#define TITA_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tita/ctl.h"
#include "tita/types.h"
#include "tita_shared.h"

#define TITA_BPF_PIN_ROOT_DEFAULT "/sys/fs/bpf/tita"

/* The tc filter's place on the clsact egress hook: a fixed handle and
 * priority, so the loader finds (and replaces) its own filter. */
#define TITA_BPF_TC_HANDLE 0x7174u
#define TITA_BPF_TC_PRIORITY 0x7174u

enum tita_bpf_xdp_mode {
	TITA_BPF_XDP_AUTO = 0, /* native, else generic (skb) mode */
	TITA_BPF_XDP_NATIVE,
	TITA_BPF_XDP_GENERIC,
	TITA_BPF_XDP_OFF, /* do not attach XDP */
};

enum tita_bpf_queue_mode {
	TITA_BPF_QUEUE_AUTO = 0, /* on when the kernel's BTF allows, else off (reason in info) */
	TITA_BPF_QUEUE_ON, /* fail when it cannot be loaded */
	TITA_BPF_QUEUE_OFF,
};

struct tita_bpf_opts {
	const char *ifname; /* required */
	const char *pin_root; /* NULL: TITA_BPF_PIN_ROOT_DEFAULT */
	enum tita_bpf_xdp_mode xdp_mode;
	bool no_tc; /* do not attach the tc egress program */
	enum tita_bpf_queue_mode queue_mode;
	/* Table sizes in entries; 0 sizes the per-CPU tables to about 16 MiB
	 * each for the host's CPU count (between 1024 and the defaults of
	 * tita_shared.h). A pinned table of another size is recreated. */
	uint32_t rx_qp4_entries;
	uint32_t rx_qp6_entries;
	uint32_t tx_peer_entries;
	uint32_t tx_class_entries;
	bool rx_per_source; /* key the RX tables by source only, not (source, QP) */
	bool tx_no_classify; /* never set skb->priority */
	/* Follow no PSNs: no out-of-sequence (loss) count, and about a third
	 * less work per received packet (the PSN table's lookup). */
	bool rx_no_loss;
	/* Optional: a one-line reason for a failure. */
	char *err_buf;
	size_t err_len;
	/* Optional debug hook (the library never prints). */
	void (*log)(void *userdata, const char *msg);
	void *log_userdata;
};

struct tita_bpf_info {
	char ifname[16];
	int ifindex;
	char pin_dir[256];
	enum tita_bpf_xdp_mode xdp_mode; /* NATIVE or GENERIC as attached, or OFF */
	bool tc_attached;
	bool queue_attached;
	char queue_off_reason[128]; /* why the sampler is off, when it is */
	bool maps_reused; /* counters carried over from pinned maps */
	bool bpffs_mounted; /* the loader mounted bpffs itself */
	uint32_t xdp_prog_id, tc_prog_id, queue_prog_id;
};

struct tita_bpf;

/* Open, load (reusing pinned maps), pin and attach. NULL with errno:
 * ENODEV (no such device), EBUSY (another program holds the XDP hook or
 * tita's tc slot), EPERM, EOPNOTSUPP (native XDP or the sampler required
 * but unavailable), ENOTDIR (pin root not on a bpf filesystem). */
struct tita_bpf *tita_bpf_attach(const struct tita_bpf_opts *opts);

/* Release the handle. What is attached and pinned stays. Accepts NULL. */
struct tita_bpf *tita_bpf_free(struct tita_bpf *b);

/* Detach the programs, unpin everything and remove the pin directory (and
 * the clsact qdisc when no filter is left on it). The handle must still be
 * freed. 0 or -errno (the first failure; the rest is still attempted). */
int tita_bpf_detach(struct tita_bpf *b);

/* Whether every pin of the handle is still there (someone may delete pins
 * under a running daemon), and pin again what is missing, from the
 * handle's own descriptors. tita_bpf_detach() does that first, so it takes
 * down what the handle attached even after its pins were deleted. */
bool tita_bpf_pins_intact(const struct tita_bpf *b);
int tita_bpf_repin(struct tita_bpf *b);

/* The same for a device attached by an earlier process, found through its
 * pins; pin_root NULL means the default. -ENOENT when nothing is pinned. */
int tita_bpf_detach_pinned(const char *ifname, const char *pin_root, char *err_buf, size_t err_len);

void tita_bpf_get_info(const struct tita_bpf *b, struct tita_bpf_info *ret_info);

/* The tc pacer's classes: packets to dst get skb->priority = classid
 * (TC_H_MAKE(major << 16, minor) of an HTB leaf on the device's root HTB;
 * see bpf/tx.bpf.c for the qdisc setup) until expires_ns on CLOCK_MONOTONIC
 * (0: never). 0 or -errno. */
int tita_bpf_class_set(struct tita_bpf *b, const struct tita_addr *dst, uint32_t classid,
		       uint64_t expires_ns);
int tita_bpf_class_clear(struct tita_bpf *b, const struct tita_addr *dst);
/* Push the expiry of n classes forward to expires_ns in one system call. */
int tita_bpf_class_renew(struct tita_bpf *b, const struct tita_addr *dsts,
			 const uint32_t *classids, uint32_t n, uint64_t expires_ns);

/* Readers. */

struct tita_bpf_rx_counts {
	uint64_t packets;
	uint64_t bytes;
	uint64_t ce_packets;
	uint64_t ect0_packets;
	uint64_t ect1_packets;
	uint64_t not_ect_packets;
	uint64_t cnp_packets;
	uint64_t oos_packets; /* missing by a later request's PSN (bpf/psn.h) */
};

struct tita_bpf_tx_counts {
	uint64_t packets;
	uint64_t bytes;
	uint64_t roce_packets;
	uint64_t roce_bytes;
	uint64_t ce_packets;
	uint64_t ect0_packets;
	uint64_t ect1_packets;
	uint64_t not_ect_packets;
	uint64_t classified_packets;
};

/*
 * total: what the reader has seen since it first saw the entry (starting
 * from the pinned counts, so a restarted daemon carries on); it never goes
 * down. delta: since the previous read; never negative, also when an entry
 * was evicted from its LRU table and created again in between (its counts
 * from before the eviction that the previous read had not seen are lost;
 * size the tables above the number of active QPs).
 */
struct tita_bpf_rx_qp {
	struct tita_addr remote;
	uint32_t dst_qp; /* 0 with rx_per_source */
	uint32_t last_psn;
	uint32_t last_opcode;
	struct tita_bpf_rx_counts total, delta;
};

/* One remote source: the sum over its QPs. */
struct tita_bpf_rx_peer {
	struct tita_addr remote;
	uint32_t qps; /* entries of this source in the table now */
	struct tita_bpf_rx_counts total, delta;
};

struct tita_bpf_tx_peer {
	struct tita_addr remote;
	struct tita_bpf_tx_counts total, delta;
};

/* One TX queue of the device over the last interval. */
struct tita_bpf_queue {
	uint32_t ifindex;
	uint32_t txq;
	uint64_t backlog_bytes; /* after the latest dequeue that saw a backlog */
	uint64_t backlog_packets;
	uint64_t hwm_bytes; /* high-water marks over the interval */
	uint64_t hwm_packets;
	uint64_t delay_max_ns;
	uint64_t delay_avg_ns; /* 0 without samples */
	uint64_t delay_samples;
	uint64_t busy_dequeues;
};

struct tita_bpf_reasons {
	uint64_t packets[TITA_REASON_MAX];
	uint64_t bytes[TITA_REASON_MAX];
};

struct tita_bpf_snapshot {
	uint64_t now_ns; /* as passed to tita_bpf_read() */
	uint64_t interval_ns; /* since the previous read; 0 on the first */
	/* Sorted by address (then QP); arrays owned by the reader, valid until
	 * the next read or tita_bpf_reader_free(). */
	size_t n_rx_peers, n_rx_qps, n_tx_peers, n_queues;
	const struct tita_bpf_rx_peer *rx_peers;
	const struct tita_bpf_rx_qp *rx_qps;
	const struct tita_bpf_tx_peer *tx_peers;
	const struct tita_bpf_queue *queues; /* TX queues seen busy */
	struct tita_bpf_reasons rx_reasons_total, rx_reasons_delta;
	struct tita_bpf_reasons tx_reasons_total, tx_reasons_delta;
	/* Queue sampler. */
	bool queue_attached;
	bool queue_percpu_qdisc; /* the device's qdisc is lockless: not sampled */
	uint64_t queue_events, queue_txq_overflow, queue_markers;
};

struct tita_bpf_reader;

/* NULL with errno. The reader keeps the previous read to compute deltas;
 * b must outlive it. */
struct tita_bpf_reader *tita_bpf_reader_new(struct tita_bpf *b);
struct tita_bpf_reader *tita_bpf_reader_free(struct tita_bpf_reader *r);

/* The drop-reason counters and the queue sampler only feed metrics and
 * diagnostics: read them at most once per interval_ns (0, the default: at
 * every read). Between those reads a snapshot repeats their last totals and
 * queue figures, with zero reason deltas; the queue figures then cover the
 * slow interval. */
void tita_bpf_reader_set_slow_interval(struct tita_bpf_reader *r, uint64_t interval_ns);

/* Read the maps. A per-peer table the datapath has added no entry to since
 * a read found it empty is not read again (one syscall per table and
 * interval is most of an idle daemon's CPU). now_ns: the caller's
 * CLOCK_MONOTONIC, which also closes the queue sampler's interval. 0 and *ret_snap, or -errno (then the
 * previous snapshot stays valid and the next read's deltas still start
 * from the last good one). */
int tita_bpf_read(struct tita_bpf_reader *r, uint64_t now_ns,
		  const struct tita_bpf_snapshot **ret_snap);

/* Lookups in a snapshot (binary search); NULL when absent. */
const struct tita_bpf_rx_peer *tita_bpf_snapshot_rx_peer(const struct tita_bpf_snapshot *s,
							 const struct tita_addr *remote);
const struct tita_bpf_tx_peer *tita_bpf_snapshot_tx_peer(const struct tita_bpf_snapshot *s,
							 const struct tita_addr *remote);

/* The controller's samples for one remote address over the snapshot's
 * interval: RX from the XDP counters; TX from the tc counters with the CNPs
 * that came back from that remote (XDP). backlog_bytes is left 0: the
 * per-destination backlog is the pacer's HTB class, not the device queue. */
void tita_bpf_rx_sample(const struct tita_bpf_snapshot *s, const struct tita_bpf_rx_peer *p,
			const struct tita_addr *local, struct tita_rx_sample *ret_sample);
void tita_bpf_tx_sample(const struct tita_bpf_snapshot *s, const struct tita_bpf_tx_peer *p,
			const struct tita_addr *local, uint32_t job_id,
			struct tita_tx_sample *ret_sample);

/*
 * The delta rule, exposed for tests: counters now[] against prev[] of the
 * same entry; when the entry was recreated (created_ns differs) or any
 * counter went down, the entry restarted from zero and now[] is the delta.
 */
void tita_bpf_counter_delta(const uint64_t *now, const uint64_t *prev, size_t n,
			    uint64_t now_created_ns, uint64_t prev_created_ns, uint64_t *ret_delta);

#endif /* TITA_BPF_H */
