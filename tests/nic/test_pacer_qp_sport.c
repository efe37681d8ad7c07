// SPDX-License-Identifier: MIT
/*
 * A pair's path (UDP source port) through the qp back end, against a fake
 * agent speaking the agent protocol 1.2 on the back end's socket: every
 * connected QP of the pair gets SET_SPORT, the move is done when each has
 * answered (after -EINPROGRESS too), a QP that connects later or comes
 * back with another port is moved, a QP destroyed during the move or an
 * agent that leaves does not hold it, a QP that cannot move, a provider's
 * error or an agent that never answers fails it, and a newer path
 * replaces one under way.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentproto.h"
#include "pacer_nic.h"

#include "check.h"
#include "fake_sysfs.h"

#define SEC 1000000000ull
#define JOB 7

static struct tita_pacer *pacer;
static struct tita_addr local, remote;
static uint64_t now = 1 * SEC;

static uint32_t job_of_pid(pid_t pid, void *ctx)
{
	(void)ctx;
	(void)pid;
	return JOB;
}

/* QP_ADD 1.2: state, capabilities and the port it sends from. */
/* A QP_ADD of an RC QP towards ::ffff:10.0.0.REMOTE in state. */
static struct tita_agent_qp qp_msg(uint64_t id, uint8_t remote_octet, uint8_t state)
{
	struct tita_agent_qp m;

	memset(&m, 0, sizeof(m));
	tita_agent_hdr_init(&m.hdr, TITA_AGENT_QP_ADD, sizeof(m));
	m.qp_id = id;
	m.qpn = 0x100 + (uint32_t)id;
	m.qp_type = 2; /* RC */
	m.state = state;
	m.port_num = 1;
	m.flags = TITA_AGENT_QP_HAS_REMOTE_GID;
	m.remote_gid[10] = m.remote_gid[11] = 0xff;
	m.remote_gid[12] = 10;
	m.remote_gid[15] = remote_octet;
	return m;
}

static void send_qp(int fd, uint64_t id, uint8_t remote_octet, uint8_t state, bool can_move,
		    uint16_t sport)
{
	struct tita_agent_qp m = qp_msg(id, remote_octet, state);

	m.sgid_index = 3;
	m.provider = can_move ? TITA_AGENT_PROV_MLX5 : TITA_AGENT_PROV_BNXT_RE;
	m.caps = can_move ? TITA_AGENT_CAP_UDP_SPORT : TITA_AGENT_CAP_RATE_LIMIT;
	snprintf(m.dev_name, sizeof(m.dev_name), "mlx5_0");
	m.udp_sport = sport;
	CHECK(send(fd, &m, sizeof(m), 0) == sizeof(m), "send QP_ADD");
}

static void send_del(int fd, uint64_t id)
{
	struct tita_agent_qp_del m = { .qp_id = id };

	tita_agent_hdr_init(&m.hdr, TITA_AGENT_QP_DEL, sizeof(m));
	CHECK(send(fd, &m, sizeof(m), 0) == sizeof(m), "send QP_DEL");
}

static void send_result(int fd, const struct tita_agent_set_sport *c, int err)
{
	struct tita_agent_sport_result r;

	memset(&r, 0, sizeof(r));
	tita_agent_hdr_init(&r.hdr, TITA_AGENT_SPORT_RESULT, sizeof(r));
	r.qp_id = c->qp_id;
	r.seq = c->seq;
	r.udp_sport = c->udp_sport;
	r.err = err;
	CHECK(send(fd, &r, sizeof(r), 0) == sizeof(r), "send SPORT_RESULT");
}

/* The SET_SPORTs titad sent, by QP id (index), count returned. */
/* A QP of an agent with no GID table (a software RoCE sender such as the
 * bed's generator): device "soft0", which sysfs does not know, and its
 * source address ::ffff:10.0.0.LOCAL in local_gid. */
static void send_qp_soft(int fd, uint64_t id, uint8_t local_octet)
{
	struct tita_agent_qp m = qp_msg(id, 2, 3);

	m.flags |= TITA_AGENT_QP_HAS_LOCAL_GID;
	m.caps = TITA_AGENT_CAP_UDP_SPORT;
	snprintf(m.dev_name, sizeof(m.dev_name), "soft0");
	m.local_gid[10] = m.local_gid[11] = 0xff;
	m.local_gid[12] = 10;
	m.local_gid[15] = local_octet;
	CHECK(send(fd, &m, sizeof(m), 0) == sizeof(m), "send QP_ADD");
}

static int sets(int fd, struct tita_agent_set_sport *by_id, size_t max_id)
{
	char buf[TITA_AGENT_MSG_MAX];
	struct pollfd pfd = { fd, POLLIN, 0 };
	int n = 0;

	while (poll(&pfd, 1, 50) == 1) {
		ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		struct tita_agent_set_sport m;

		if (len <= 0)
			break;
		if (tita_agent_msg_check(buf, (size_t)len) != TITA_AGENT_SET_SPORT)
			continue;
		memcpy(&m, buf, sizeof(m));
		if (m.qp_id < max_id)
			by_id[m.qp_id] = m;
		n++;
	}
	return n;
}

static void no_sample(const struct tita_tx_sample *ts, void *ctx)
{
	(void)ts;
	(void)ctx;
}

static void pass(void)
{
	now += 1000;
	tita_pacer_qp_process(pacer, now);
}

/* The move popped now: true with its error, false when none is done. */
static bool done(uint16_t *ret_sport, int *ret_err)
{
	struct tita_path_update u;

	if (!tita_pacer_qp_pop_path(pacer, &u, ret_err))
		return false;
	CHECK(tita_addr_eq(&u.local, &local) && tita_addr_eq(&u.remote, &remote) && u.job_id == JOB,
	      "the done move is another pair's");
	*ret_sport = u.sport;
	return true;
}

static int agent_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tita_agent_hello h = { 0 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %m");
	tita_agent_hdr_init(&h.hdr, TITA_AGENT_HELLO, sizeof(h));
	send(fd, &h, sizeof(h), 0);
	return fd;
}

static struct tita_path_update path(uint16_t sport)
{
	return (struct tita_path_update){
		.local = local, .remote = remote, .job_id = JOB, .sport = sport
	};
}

int main(void)
{
	char root[] = "/tmp/tita-pqps-XXXXXX", err[256] = "";
	uint8_t v4[4] = { 10, 0, 0, 1 }, v4r[4] = { 10, 0, 0, 2 };
	struct tita_pacer_port port = { .ifname = "eth0" };
	struct tita_pacer_env conf = { .agent_socket_mode = 0666,
				       .job_of_pid = job_of_pid,
				       .sport_max_wait_ms = 300 };
	struct tita_agent_set_sport set[16];
	struct tita_pacer_agent_stats st;
	struct tita_path_update u;
	uint16_t sport;
	int fd, fd2, e, r;

	if (!mkdtemp(root) || !fake_sysfs_gid(root, "mlx5_0", "eth0"))
		return 1;

	local = tita_addr_from_ipv4(v4);
	remote = tita_addr_from_ipv4(v4r);
	port.addr = local;
	snprintf(conf.agent_socket, sizeof(conf.agent_socket), "%s/agent.sock", root);
	snprintf(conf.sysfs_root, sizeof(conf.sysfs_root), "%s", root);
	pacer = tita_pacer_new(&tita_pacer_qp_ops, &port, 1, &conf);
	r = pacer->ops->init(pacer, err, sizeof(err));
	CHECK(r == 0, "init: %d %s", r, err);

	/* A path before any QP: nothing to move, done at once; not a port. */
	u = path(50000);
	CHECK(tita_pacer_qp_set_path(pacer, &u, now) == 0, "path with no QP");
	CHECK(done(&sport, &e) && sport == 50000 && e == 0, "no QP: done at once");
	u.local = remote;
	CHECK(tita_pacer_qp_set_path(pacer, &u, now) == -ENOENT, "not a port");
	u = path(0);
	CHECK(tita_pacer_qp_set_path(pacer, &u, now) == -EINVAL, "port 0");

	fd = agent_connect(conf.agent_socket);
	send_qp(fd, 1, 2, 3, true, 0);
	send_qp(fd, 2, 2, 3, true, 0);
	send_qp(fd, 3, 3, 3, true, 0); /* another remote */
	send_qp(fd, 4, 2, 1, true, 0); /* INIT: not connected */
	pass();
	/* The pair's path of before is the pair's: its QPs take it. */
	memset(set, 0, sizeof(set));
	CHECK(sets(fd, set, 16) == 2, "QPs joining a pair with a path are moved");
	CHECK(set[1].udp_sport == 50000 && set[2].udp_sport == 50000, "to the pair's port");
	send_result(fd, &set[1], 0);
	send_result(fd, &set[2], 0);
	pass();
	CHECK(!done(&sport, &e), "a follow-up is not a new move");

	/* A move: both connected QPs, one held until it drains. */
	u = path(51000);
	CHECK(tita_pacer_qp_set_path(pacer, &u, now) == 0, "set path");
	memset(set, 0, sizeof(set));
	CHECK(sets(fd, set, 16) == 2, "SET_SPORT to each connected QP of the pair");
	CHECK(set[1].udp_sport == 51000 && set[2].udp_sport == 51000 && set[3].qp_id == 0 &&
		      set[4].qp_id == 0,
	      "the pair's connected QPs, no other");
	CHECK(set[1].max_wait_ms == 300 && set[1].seq != set[2].seq, "wait and sequence numbers");
	send_result(fd, &set[1], 0);
	send_result(fd, &set[2], -EINPROGRESS);
	pass();
	CHECK(!done(&sport, &e), "done while a QP drains");
	tita_pacer_qp_stats(pacer, &st);
	CHECK(st.paths_pending == 1, "pending %u", st.paths_pending);
	send_result(fd, &set[2], 0);
	pass();
	CHECK(done(&sport, &e) && sport == 51000 && e == 0, "done when every QP moved");
	/* The QP connects: it takes the pair's port, no new move. */
	send_qp(fd, 4, 2, 3, true, 0);
	pass();
	memset(set, 0, sizeof(set));
	CHECK(sets(fd, set, 16) == 1 && set[4].udp_sport == 51000, "a QP that connects later");
	send_result(fd, &set[4], 0);
	/* Registered again with the port it took: nothing to send. */
	send_qp(fd, 4, 2, 3, true, 51000);
	send_qp(fd, 1, 2, 3, true, 51000);
	pass();
	CHECK(sets(fd, set, 16) == 0, "a QP on the pair's port is left alone");
	CHECK(!done(&sport, &e), "nothing done");

	/* A QP destroyed during the move (the agent cancels its change and
	 * deletes it) does not hold it; stale answers are ignored. */
	u = path(52000);
	CHECK(tita_pacer_qp_set_path(pacer, &u, now) == 0, "set path");
	memset(set, 0, sizeof(set));
	CHECK(sets(fd, set, 16) == 3, "three QPs");
	send_result(fd, &set[1], 0);
	send_result(fd, &set[2], 0);
	{
		struct tita_agent_set_sport old = set[4];

		old.seq -= 100;
		send_result(fd, &old, -EIO); /* not the change waited for */
	}
	send_result(fd, &set[4], -ECANCELED);
	send_del(fd, 4);
	pass();
	CHECK(done(&sport, &e) && sport == 52000 && e == 0, "done without the destroyed QP: %d", e);

	/* A provider's error fails the move; the others still move. */
	u = path(53000);
	tita_pacer_qp_set_path(pacer, &u, now);
	memset(set, 0, sizeof(set));
	CHECK(sets(fd, set, 16) == 2, "two QPs");
	send_result(fd, &set[1], -EINVAL);
	send_result(fd, &set[2], 0);
	pass();
	CHECK(done(&sport, &e) && sport == 53000 && e == -EINVAL, "failed: %d", e);

	/* A newer path replaces one under way: the old one is never done. */
	u = path(54000);
	tita_pacer_qp_set_path(pacer, &u, now);
	memset(set, 0, sizeof(set));
	CHECK(sets(fd, set, 16) == 2, "two QPs");
	send_result(fd, &set[1], -EINPROGRESS);
	u = path(55000);
	tita_pacer_qp_set_path(pacer, &u, now);
	{
		struct tita_agent_set_sport first = set[1];

		memset(set, 0, sizeof(set));
		CHECK(sets(fd, set, 16) == 2 && set[1].udp_sport == 55000, "the newer port");
		send_result(fd, &first, -ECANCELED); /* the agent's answer to the old */
	}
	send_result(fd, &set[1], 0);
	send_result(fd, &set[2], 0);
	pass();
	CHECK(done(&sport, &e) && sport == 55000 && e == 0, "the newer move done");
	CHECK(!done(&sport, &e), "and only that");

	/* A QP its provider cannot move: the move fails at once. */
	send_qp(fd, 5, 2, 3, false, 0);
	pass();
	CHECK(sets(fd, set, 16) == 0, "nothing sent to a QP that cannot move");
	u = path(56000);
	tita_pacer_qp_set_path(pacer, &u, now);
	memset(set, 0, sizeof(set));
	CHECK(sets(fd, set, 16) == 2, "the others are asked");
	send_result(fd, &set[1], 0);
	send_result(fd, &set[2], 0);
	pass();
	CHECK(done(&sport, &e) && e == -EOPNOTSUPP, "cannot move: %d", e);
	send_del(fd, 5);
	pass();

	/* An agent that never answers: the move fails after its wait and a
	 * grace; an agent that leaves takes its QPs' debts with it. */
	u = path(57000);
	tita_pacer_qp_set_path(pacer, &u, now);
	CHECK(sets(fd, set, 16) == 2, "two QPs");
	pass();
	CHECK(!done(&sport, &e), "not yet");
	now += 300 * 1000000ull + 2 * SEC + 1;
	pass();
	CHECK(done(&sport, &e) && sport == 57000 && e == -ETIMEDOUT, "timed out: %d", e);

	fd2 = agent_connect(conf.agent_socket);
	send_qp(fd2, 1, 2, 3, true, 57000);
	pass();
	u = path(58000);
	tita_pacer_qp_set_path(pacer, &u, now);
	{
		struct tita_agent_set_sport set2[4];

		CHECK(sets(fd, set, 16) == 2 && sets(fd2, set2, 4) == 1, "three QPs on two agents");
	}
	send_result(fd, &set[1], 0);
	send_result(fd, &set[2], 0);
	pass();
	CHECK(!done(&sport, &e), "the second agent's QP owes an answer");
	close(fd2);
	pass();
	CHECK(done(&sport, &e) && sport == 58000 && e == 0, "done when that agent left: %d", e);

	tita_pacer_qp_stats(pacer, &st);
	CHECK(st.paths_applied == 5 && st.paths_failed == 3 && st.paths_pending == 0,
	      "applied %llu failed %llu pending %u", (unsigned long long)st.paths_applied,
	      (unsigned long long)st.paths_failed, st.paths_pending);
	/* The provider's refusal, and the QP that cannot move, twice. */
	CHECK(st.sport_errors == 3 && st.protocol_errors == 0, "errors %llu protocol %llu",
	      (unsigned long long)st.sport_errors, (unsigned long long)st.protocol_errors);

	/* No GID table: the QP's own source address names its port (and it
	 * joins its pair, taking the pair's path); an address that is no
	 * port's leaves the QP out of every pair. */
	send_qp_soft(fd, 9, 1);
	send_qp_soft(fd, 10, 9);
	pass();
	memset(set, 0, sizeof(set));
	r = sets(fd, set, 16);
	CHECK(r == 1 && set[9].udp_sport == 58000,
	      "the QP with the port's address takes its pair's port (%d asked; %u)", r,
	      set[9].udp_sport);
	u = path(59000);
	tita_pacer_qp_set_path(pacer, &u, now);
	memset(set, 0, sizeof(set));
	r = sets(fd, set, 16);
	CHECK(r == 3 && set[9].udp_sport == 59000 && set[10].udp_sport == 0,
	      "it moves with its pair, the other QP does not (%d asked; %u, %u)", r,
	      set[9].udp_sport, set[10].udp_sport);

	/* A pair whose QPs are gone keeps its path: a QP that comes back
	 * takes it; a minute after the last one left it is forgotten. */
	close(fd);
	pass();
	while (done(&sport, &e))
		;
	fd = agent_connect(conf.agent_socket);
	send_qp(fd, 1, 2, 3, true, 0);
	pass();
	memset(set, 0, sizeof(set));
	r = sets(fd, set, 16);
	CHECK(r == 1 && set[1].udp_sport == 59000, "back at once: the pair's port (%d asked; %u)",
	      r, set[1].udp_sport);
	close(fd);
	pass();
	tita_pacer_qp_tx_samples(pacer, now, no_sample, NULL);
	now += 59 * SEC;
	tita_pacer_qp_tx_samples(pacer, now, no_sample, NULL);
	fd = agent_connect(conf.agent_socket);
	send_qp(fd, 1, 2, 3, true, 0);
	pass();
	r = sets(fd, set, 16);
	CHECK(r == 1, "back within the minute: still the pair's port (%d asked)", r);
	close(fd);
	pass();
	tita_pacer_qp_tx_samples(pacer, now, no_sample, NULL);
	now += 61 * SEC;
	tita_pacer_qp_tx_samples(pacer, now, no_sample, NULL);
	fd = agent_connect(conf.agent_socket);
	send_qp(fd, 1, 2, 3, true, 0);
	pass();
	r = sets(fd, set, 16);
	CHECK(r == 0, "a minute later: no path kept (%d asked)", r);

	close(fd);
	pacer->ops->cleanup(pacer);
	tita_pacer_free(pacer);
	CHECK(fake_sysfs_remove(root), "rm %s", root);
	return failures ? 1 : 0;
}
