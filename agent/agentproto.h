/* SPDX-License-Identifier: MIT */
/*
 * The agent protocol: titad ⇄ the in-process QP agent (libtita-agent.so),
 * over an AF_UNIX SOCK_SEQPACKET socket, so one datagram is one message and
 * no framing is needed. Fixed binary layouts in the host's byte order (both
 * ends run on the same host), every message starting with the same
 * 16-byte header.
 *
 * Versioning: `version` is the major version; a receiver rejects a message
 * of another major version. A later minor revision may only append fields
 * to a message: receivers accept a message at least as long as the layout
 * they know and ignore the tail. Every length is checked by
 * tita_agent_msg_check() before a field is read.
 *
 *   agent → titad  HELLO         once per connection, first
 *                  QP_ADD        a QP, again whenever its state, route or UDP
 *                                source port changes; since 1.1 with its
 *                                counters when sent, since 1.2 with its local
 *                                GID and source port where the agent knows them
 *                  QP_DEL        a destroyed QP
 *                  STATS         per-QP bytes posted and completed (demand)
 *                  RATE_RESULT   what became of a SET_RATE
 *                  SPORT_RESULT  what became of a SET_SPORT (1.2)
 *   titad → agent  SET_RATE      pace a QP at rate_kbps (0: unpaced); since
 *                                1.3 after its next unsched_bytes posted
 *                  SET_SPORT     move a QP to another UDP source port, that is
 *                                another ECMP path (1.2); only to a QP whose
 *                                QP_ADD has TITA_AGENT_CAP_UDP_SPORT
 *
 * When the connection drops, the agent returns every QP to unpaced: a dead
 * titad must never leave a job throttled. Source ports stay as they are: a
 * path is not a throttle.
 */
#ifndef TITA_AGENTPROTO_H
#define TITA_AGENTPROTO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define TITA_AGENT_MAGIC 0x41505154u /* "TQPA" in memory on little-endian hosts */
#define TITA_AGENT_VERSION 1
#define TITA_AGENT_MSG_MAX 4096
#define TITA_AGENT_SOCKET_DEFAULT "/run/tita/agent.sock"

enum tita_agent_type {
	TITA_AGENT_HELLO = 1,
	TITA_AGENT_QP_ADD = 2,
	TITA_AGENT_QP_DEL = 3,
	TITA_AGENT_STATS = 4,
	TITA_AGENT_SET_RATE = 5,
	TITA_AGENT_RATE_RESULT = 6,
	TITA_AGENT_SET_SPORT = 7,
	TITA_AGENT_SPORT_RESULT = 8,
};

/* What the provider behind a QP is, from its device name. */
enum tita_agent_provider {
	TITA_AGENT_PROV_GENERIC = 0,
	TITA_AGENT_PROV_MLX5 = 1,
	TITA_AGENT_PROV_BNXT_RE = 2,
	TITA_AGENT_PROV_IONIC = 3,
	TITA_AGENT_PROV_IRDMA = 4,
	TITA_AGENT_PROV_RXE = 5,
};

/* How a rate is enforced. */
enum tita_agent_mechanism {
	TITA_AGENT_MECH_NONE = 0,
	TITA_AGENT_MECH_RATE_LIMIT = 1, /* ibv_modify_qp_rate_limit */
	TITA_AGENT_MECH_MLX5_SCHED = 2, /* mlx5dv scheduling leaf */
};

struct tita_agent_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len; /* the whole message, header included */
	uint32_t reserved;
};

struct tita_agent_hello {
	struct tita_agent_hdr hdr;
	uint32_t pid; /* informative: titad trusts SO_PEERCRED */
	uint32_t max_qps;
	char comm[16];
};

#define TITA_AGENT_QP_HAS_REMOTE_GID 0x1u
#define TITA_AGENT_QP_HAS_LOCAL_GID 0x2u /* 1.2: local_gid is the QP's source address */
#define TITA_AGENT_CAP_RATE_LIMIT 0x1u /* the provider has modify_qp_rate_limit */
#define TITA_AGENT_CAP_MLX5_SCHED 0x2u /* mlx5dv scheduling elements resolved */
#define TITA_AGENT_CAP_UDP_SPORT 0x4u /* 1.2: SET_SPORT can move this QP */
#define TITA_AGENT_CAP_UNSCHED 0x8u /* 1.3: SET_RATE's unsched_bytes are carried */

struct tita_agent_qp {
	struct tita_agent_hdr hdr;
	uint64_t qp_id; /* the agent's handle, unique for the connection's life */
	uint32_t qpn, dest_qpn;
	uint8_t qp_type; /* enum ibv_qp_type */
	uint8_t state; /* enum ibv_qp_state */
	uint8_t port_num;
	uint8_t sgid_index;
	uint8_t provider; /* enum tita_agent_provider */
	uint8_t flags; /* TITA_AGENT_QP_* */
	uint16_t reserved;
	uint32_t caps; /* TITA_AGENT_CAP_* */
	char dev_name[64];
	uint8_t remote_gid[16]; /* RoCEv2 IPv4: ::ffff:a.b.c.d */
	/* 1.1: bytes_posted and bytes_completed (as in STATS) when this was
	 * sent. titad counts a QP it has not seen on this connection from
	 * here, so a QP registered again after a reconnect does not bring
	 * its whole past in as one interval's traffic. */
	uint64_t bytes_posted, bytes_completed;
	/* 1.2: with remote_gid, the RoCEv2 5-tuple whose UDP source port is
	 * the ECMP entropy (the destination port is always 4791). local_gid
	 * is valid with TITA_AGENT_QP_HAS_LOCAL_GID (an agent with no GID
	 * table, such as the test bed's generator, says where it sends from;
	 * otherwise titad finds it from dev_name, port_num and sgid_index).
	 * udp_sport is the port the QP sends from, 0 where the agent does
	 * not know it (the NIC derived it from the QPN or the flow label and
	 * nobody set it since). */
	uint8_t local_gid[16];
	uint16_t udp_sport;
	uint16_t reserved2;
	uint32_t reserved3;
};

/* QP_ADD as protocol 1.0 sent it: no counters (titad takes them as 0). */
#define TITA_AGENT_QP_LEN_1_0 offsetof(struct tita_agent_qp, bytes_posted)
/* QP_ADD as protocol 1.1 sent it: no local GID, no source port. */
#define TITA_AGENT_QP_LEN_1_1 offsetof(struct tita_agent_qp, local_gid)

struct tita_agent_qp_del {
	struct tita_agent_hdr hdr;
	uint64_t qp_id;
};

struct tita_agent_qp_stat {
	uint64_t qp_id;
	uint64_t bytes_posted; /* send, write: bytes handed to the NIC */
	uint64_t bytes_completed; /* of those, completed (signalled WRs) */
	uint64_t bytes_read; /* RDMA reads posted (data flows towards us) */
};

#define TITA_AGENT_STATS_MAX                                        \
	((TITA_AGENT_MSG_MAX - sizeof(struct tita_agent_hdr) - 8) / \
	 sizeof(struct tita_agent_qp_stat))

struct tita_agent_stats {
	struct tita_agent_hdr hdr;
	uint32_t n;
	uint32_t reserved;
	struct tita_agent_qp_stat qps[];
};

struct tita_agent_set_rate {
	struct tita_agent_hdr hdr;
	uint64_t qp_id;
	uint64_t rate_kbps; /* 0: unpaced */
	uint32_t seq;
	uint32_t reserved;
	/*
	 * 1.3, to a QP with TITA_AGENT_CAP_UNSCHED: the QP goes unpaced now,
	 * and rate_kbps applies once unsched_bytes more are posted on it
	 * (a message's unscheduled first bytes); 0, or a command as 1.2 sent
	 * it: rate_kbps at once. Any later SET_RATE ends what is left. The
	 * agent answers at once (the QP unpaced), and again with the same
	 * seq when it applies rate_kbps.
	 */
	uint64_t unsched_bytes;
};

/* SET_RATE as protocol 1.2 sent it: no unscheduled bytes. */
#define TITA_AGENT_SET_RATE_LEN_1_2 offsetof(struct tita_agent_set_rate, unsched_bytes)

struct tita_agent_rate_result {
	struct tita_agent_hdr hdr;
	uint64_t qp_id;
	uint64_t rate_kbps;
	uint32_t seq;
	int32_t err; /* 0, -EAGAIN (held until the QP reaches RTR), or -errno */
	uint32_t mechanism; /* enum tita_agent_mechanism */
	uint32_t reserved;
};

/*
 * SET_SPORT (1.2): send the QP's packets from udp_sport from now on. An RC
 * QP must not reorder, so the agent moves it only when nothing it posted is
 * in flight (every WR completed; for the bed's generator, its last message
 * acknowledged) and, on mlx5, in RTS. A QP that is not there yet is held
 * for at most max_wait_ms, and the answer comes in two SPORT_RESULTs with
 * the same seq: -EINPROGRESS at once, then the outcome. Every SET_SPORT
 * gets exactly one final result (err != -EINPROGRESS).
 */
struct tita_agent_set_sport {
	struct tita_agent_hdr hdr;
	uint64_t qp_id;
	uint32_t seq;
	uint16_t udp_sport; /* 1..65535; RoCEv2 NICs pick from 49152..65535 */
	uint16_t reserved;
	uint32_t max_wait_ms; /* 0: now or not at all (-EBUSY) */
	uint32_t reserved2;
};

struct tita_agent_sport_result {
	struct tita_agent_hdr hdr;
	uint64_t qp_id;
	uint32_t seq;
	uint16_t udp_sport; /* as asked */
	uint16_t reserved;
	/*
	 * 0             the QP sends from udp_sport (a QP_ADD with it follows)
	 * -EINPROGRESS  held until the QP is idle; the final result follows
	 * -EBUSY        max_wait_ms 0 and the QP had work in flight
	 * -ETIMEDOUT    not idle within max_wait_ms; the port is unchanged
	 * -ECANCELED    a later SET_SPORT for the QP replaced this one, or the
	 *               QP was destroyed (its QP_DEL follows)
	 * -EOPNOTSUPP   the provider cannot move this QP (not mlx5, not RC/UC)
	 * -EINVAL       udp_sport 0, or the provider refused the port
	 * -ENOENT       no such QP
	 * or another -errno from the provider.
	 */
	int32_t err;
	uint32_t reserved2;
};

static inline void tita_agent_hdr_init(struct tita_agent_hdr *h, uint16_t type, size_t len)
{
	h->magic = TITA_AGENT_MAGIC;
	h->version = TITA_AGENT_VERSION;
	h->type = type;
	h->len = (uint32_t)len;
	h->reserved = 0;
}

/* The answer to SET_SPORT (qp_id, seq, udp_sport) with err. */
static inline void tita_agent_sport_result_init(struct tita_agent_sport_result *r, uint64_t qp_id,
						uint32_t seq, uint16_t udp_sport, int err)
{
	*r = (struct tita_agent_sport_result){
		.qp_id = qp_id, .seq = seq, .udp_sport = udp_sport, .err = err
	};
	tita_agent_hdr_init(&r->hdr, TITA_AGENT_SPORT_RESULT, sizeof(*r));
}

/* The smallest valid length of a message type; 0 for an unknown type. */
static inline size_t tita_agent_min_len(uint16_t type)
{
	switch (type) {
	case TITA_AGENT_HELLO:
		return sizeof(struct tita_agent_hello);
	case TITA_AGENT_QP_ADD:
		return TITA_AGENT_QP_LEN_1_0;
	case TITA_AGENT_QP_DEL:
		return sizeof(struct tita_agent_qp_del);
	case TITA_AGENT_STATS:
		return sizeof(struct tita_agent_stats);
	case TITA_AGENT_SET_RATE:
		return TITA_AGENT_SET_RATE_LEN_1_2;
	case TITA_AGENT_RATE_RESULT:
		return sizeof(struct tita_agent_rate_result);
	case TITA_AGENT_SET_SPORT:
		return sizeof(struct tita_agent_set_sport);
	case TITA_AGENT_SPORT_RESULT:
		return sizeof(struct tita_agent_sport_result);
	default:
		return 0;
	}
}

/*
 * Check a received message of len bytes: header, version, the header's
 * length against what arrived, the type's minimum length, and for STATS
 * the entry count against the length. The type, or a negative errno:
 * -EBADMSG (malformed), -EPROTO (another major version or magic),
 * -ENOMSG (unknown type).
 */
static inline int tita_agent_msg_check(const void *buf, size_t len)
{
	const struct tita_agent_hdr *h = buf;
	size_t min;

	if (len < sizeof(*h) || len > TITA_AGENT_MSG_MAX)
		return -EBADMSG;
	if (h->magic != TITA_AGENT_MAGIC || h->version != TITA_AGENT_VERSION)
		return -EPROTO;
	if (h->len != len)
		return -EBADMSG;
	min = tita_agent_min_len(h->type);
	if (!min)
		return -ENOMSG;
	if (len < min)
		return -EBADMSG;
	if (h->type == TITA_AGENT_STATS) {
		const struct tita_agent_stats *s = buf;

		if (s->n > TITA_AGENT_STATS_MAX ||
		    len < sizeof(*s) + (size_t)s->n * sizeof(struct tita_agent_qp_stat))
			return -EBADMSG;
	}
	return h->type;
}

#endif /* TITA_AGENTPROTO_H */
