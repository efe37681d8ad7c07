// SPDX-License-Identifier: MIT
/*
 * titactl: ask titad for its state and change per-job pacing, over the
 * control socket. Object/verb tables in the style of iproute2's rdma tool:
 *
 *   titactl [-j [-p]] [-s SOCKET] status | ports | peers
 *   titactl [-j] pairs [dev IFNAME] [job NAME] [local ADDR] [peer ADDR] [role tx|rx]
 *   titactl [-j] qps [job NAME] [device DEV]
 *   titactl [-j] job set NAME [--weight W] [--min RATE] [--max RATE]
 *   titactl [-j] job show [NAME] | job clear NAME
 *   titactl [-j] diagnose [--prometheus URL | --targets LIST | --file PATH...]
 *
 * As in iproute2, objects, verbs and filter keys may be cut to any unique
 * prefix (titactl pa = titactl pairs), and an unknown word is answered
 * with the nearest one. Every argument is checked before anything is
 * sent: a bad one prints one line on stderr, exits 2 and changes nothing.
 * A refusal by the daemon (not allowed, no such job) prints its message
 * and exits 1.
 *
 * JSON is for jq: 64-bit identifiers (boot ids) are strings, since jq
 * reads numbers as doubles; a value that does not apply to a row (an rx
 * pair's ceiling) is null, and "-" in the tables.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctlproto.h"
#include "diag/diag_source.h"
#include "tita-config.h"
#include "units.h"

#define EXIT_USAGE 2

static bool json, pretty;
static const char *socket_path = TITA_CTL_SOCKET_DEFAULT;

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("titactl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see titactl help)\n", stderr);
	exit(EXIT_USAGE);
}

/* ---- talking to titad --------------------------------------------------------- */

static Tita__Control__Response *call(Tita__Control__Request *rq)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	Tita__Control__Response *resp;
	uint8_t *buf;
	ssize_t n;
	int fd, r;

	if (strlen(socket_path) >= sizeof(sun.sun_path))
		usage_error("socket path too long: %s", socket_path);
	strcpy(sun.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		fprintf(stderr, "titactl: cannot reach titad at %s: %s\n", socket_path,
			strerror(errno));
		exit(1);
	}
	rq->id = (uint64_t)getpid();
	r = tita_ctl_send(fd, &rq->base, TITA_CTL_REQUEST_MAX);
	if (r) {
		fprintf(stderr, "titactl: sending to titad: %s\n", strerror(-r));
		exit(1);
	}
	buf = malloc(TITA_CTL_RESPONSE_MAX);
	if (!buf) {
		fprintf(stderr, "titactl: out of memory\n");
		exit(1);
	}
	n = tita_ctl_recv(fd, buf, TITA_CTL_RESPONSE_MAX);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "titactl: no answer from titad: %s\n",
			n == 0 ? "connection closed" : strerror((int)-n));
		exit(1);
	}
	resp = tita_ctl_response_unpack(buf, (size_t)n);
	free(buf);
	if (!resp) {
		fprintf(stderr, "titactl: titad sent a malformed answer\n");
		exit(1);
	}
	if (resp->error != TITA__CONTROL__ERROR_CODE__ERROR_CODE_OK) {
		fprintf(stderr, "titactl: %s\n",
			resp->message && resp->message[0] ? resp->message :
							    "titad refused the request");
		exit(1);
	}
	return resp;
}

static void expect(const Tita__Control__Response *resp, Tita__Control__Response__BodyCase want)
{
	if (resp->body_case != want) {
		fprintf(stderr, "titactl: titad sent an unsupported answer\n");
		exit(1);
	}
}

/* ---- printing ------------------------------------------------------------------- */

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static const char *addr_str(const ProtobufCBinaryData *b, char *buf, size_t size)
{
	if (b->len == 4)
		return inet_ntop(AF_INET, b->data, buf, (socklen_t)size);
	if (b->len == 16)
		return inet_ntop(AF_INET6, b->data, buf, (socklen_t)size);
	snprintf(buf, size, "-");
	return buf;
}

static const char *rate_str(uint64_t bps, char *buf, size_t size)
{
	return tita_format_rate(bps, buf, size);
}

static const char *rate_or_na(bool applies, uint64_t bps, char *buf, size_t size)
{
	return applies ? rate_str(bps, buf, size) : "-";
}

/* ,"key":v, or null where it does not apply. */
static void json_field_u64(const char *key, bool applies, uint64_t v)
{
	if (applies)
		printf(",\"%s\":%llu", key, (unsigned long long)v);
	else
		printf(",\"%s\":null", key);
}

/* A 64-bit identifier: a string, which jq keeps whole (a number above 2^53
 * it would round). */
static void json_field_id(const char *key, uint64_t v)
{
	printf(",\"%s\":\"%llu\"", key, (unsigned long long)v);
}

/* ---- objects ----------------------------------------------------------------------- */

static int no_more_args(int argc, char **argv, const char *what)
{
	if (argc > 0)
		usage_error("%s: unexpected argument '%s'", what, argv[0]);
	return 0;
}

/* Levenshtein distance of two words, for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[33], cur[33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);

			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			cur[j] = best;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

/*
 * iproute2's habit: a word names the entry it equals, else the one entry
 * it is a prefix of. The names are the first member of each entry of a
 * table ending in a NULL name. Anything else is a usage error that lists
 * the candidates, or names the nearest entry. where: "pairs: " or "".
 */
static size_t lookup(const void *table, size_t stride, const char *word, const char *where,
		     const char *kind)
{
	char list[256] = "", all[256] = "";
	const char *nearest = NULL;
	size_t found = SIZE_MAX, n_found = 0, best = SIZE_MAX, len = strlen(word);

#define NAME_AT(i) (*(const char *const *)((const char *)table + (i)*stride))
	for (size_t i = 0; NAME_AT(i); i++) {
		const char *name = NAME_AT(i);
		size_t d;

		if (!strcmp(name, word))
			return i;
		if (strcmp(name, "help"))
			snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s",
				 all[0] ? ", " : "", name);
		if (len && !strncmp(name, word, len)) {
			found = i;
			n_found++;
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 list[0] ? ", " : "", name);
		}
		d = edit_distance(word, name);
		if (d < best) {
			best = d;
			nearest = name;
		}
	}
#undef NAME_AT
	if (n_found == 1)
		return found;
	if (n_found > 1)
		usage_error("%sambiguous %s '%s': %s", where, kind, word, list);
	/* Near enough that it reads as a typo, not as another word. */
	if (nearest && best * 2 <= len)
		usage_error("%sunknown %s '%s'; did you mean '%s'?", where, kind, word, nearest);
	usage_error("%sunknown %s '%s' (%s)", where, kind, word, all);
}

struct word {
	const char *name;
};

/* An object's optional verb: show (the default) or help. */
static int default_show_verb(int *argc, char ***argv, const char *what)
{
	static const struct word verbs[] = { { "show" }, { "help" }, { NULL } };
	size_t len;

	if (*argc == 0)
		return 0;
	/* Only a prefix of a verb is one: the rest are the object's filters. */
	len = strlen((*argv)[0]);
	if (!len || (strncmp((*argv)[0], "show", len) && strncmp((*argv)[0], "help", len)))
		return 0;
	if (lookup(verbs, sizeof(verbs[0]), (*argv)[0], "", "verb") == 1) {
		printf("Usage: titactl [-j] %s [show]\n", what);
		exit(0);
	}
	(*argc)--;
	(*argv)++;
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__StatusRequest sr = TITA__CONTROL__STATUS_REQUEST__INIT;
	Tita__Control__Response *resp;
	Tita__Control__StatusResponse *s;
	Tita__Control__ControllerCounters *c;

	default_show_verb(&argc, &argv, "status");
	no_more_args(argc, argv, "status");
	rq.body_case = TITA__CONTROL__REQUEST__BODY_STATUS;
	rq.status = &sr;
	resp = call(&rq);
	expect(resp, TITA__CONTROL__RESPONSE__BODY_STATUS);
	s = resp->status;
	c = s->controller;
	if (json) {
		printf("{\"version\":");
		json_str(s->version);
		printf(",\"uptime_ns\":%llu", (unsigned long long)s->uptime_ns);
		json_field_id("boot_id", s->boot_id);
		printf(",\"key_id\":%u,\"pacer\":", s->key_id);
		json_str(s->pacer);
		printf(",\"n_ports\":%u,\"n_peers\":%u,\"n_pairs\":%u,\"datagrams_in\":%llu,"
		       "\"datagrams_out\":%llu,\"drops\":{",
		       s->n_ports, s->n_peers, s->n_pairs, (unsigned long long)s->datagrams_in,
		       (unsigned long long)s->datagrams_out);
		for (size_t i = 0; i < s->n_drops; i++) {
			printf(i ? "," : "");
			json_str(s->drops[i]->reason);
			printf(":%llu", (unsigned long long)s->drops[i]->count);
		}
		printf("},\"qp_discovery\":");
		json_str(s->qp_discovery && s->qp_discovery[0] ? s->qp_discovery : "unknown");
		printf(",\"n_qps\":%u,\"key_ids\":[", s->n_qps);
		for (size_t i = 0; i < s->n_key_ids; i++)
			printf("%s%u", i ? "," : "", s->key_ids[i]);
		printf("]");
		if (c)
			printf(",\"controller\":{\"rounds\":%llu,\"msgs_in\":%llu,\"msgs_out\":%llu,"
			       "\"entries_in\":%llu,\"entries_skipped_not_local\":%llu,"
			       "\"entries_skipped_mismatch\":%llu,\"entries_skipped_no_space\":%llu,"
			       "\"samples_in\":%llu,\"pairs_evicted\":%llu,\"grants_expired\":%llu,"
			       "\"demands_expired\":%llu,\"rate_updates\":%llu,"
			       "\"rate_updates_suppressed\":%llu}",
			       (unsigned long long)c->rounds, (unsigned long long)c->msgs_in,
			       (unsigned long long)c->msgs_out, (unsigned long long)c->entries_in,
			       (unsigned long long)c->entries_skipped_not_local,
			       (unsigned long long)c->entries_skipped_mismatch,
			       (unsigned long long)c->entries_skipped_no_space,
			       (unsigned long long)c->samples_in,
			       (unsigned long long)c->pairs_evicted,
			       (unsigned long long)c->grants_expired,
			       (unsigned long long)c->demands_expired,
			       (unsigned long long)c->rate_updates,
			       (unsigned long long)c->rate_updates_suppressed);
		printf("}\n");
	} else {
		printf("titad %s, up %.1fs, pacer %s, key id %u", s->version,
		       (double)s->uptime_ns / 1e9, s->pacer, s->key_id);
		/* An older titad does not say which ids it accepts. */
		for (size_t i = 0; i < s->n_key_ids; i++)
			printf("%s%u", i ? "," : " (accepts ", s->key_ids[i]);
		printf("%s\n", s->n_key_ids ? ")" : "");
		printf("ports %u  peers %u  pairs %u\n", s->n_ports, s->n_peers, s->n_pairs);
		printf("datagrams in %llu  out %llu\n", (unsigned long long)s->datagrams_in,
		       (unsigned long long)s->datagrams_out);
		/* An older titad does not say. */
		if (s->qp_discovery && s->qp_discovery[0])
			printf("qp discovery %s, %u QPs\n", s->qp_discovery, s->n_qps);
		if (c)
			printf("controller rounds %llu  rate updates %llu (suppressed %llu)\n",
			       (unsigned long long)c->rounds, (unsigned long long)c->rate_updates,
			       (unsigned long long)c->rate_updates_suppressed);
		for (size_t i = 0; i < s->n_drops; i++)
			printf("dropped %-22s %llu\n", s->drops[i]->reason,
			       (unsigned long long)s->drops[i]->count);
	}
	tita__control__response__free_unpacked(resp, NULL);
	return 0;
}

static int cmd_ports(int argc, char **argv)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__PortsRequest pr = TITA__CONTROL__PORTS_REQUEST__INIT;
	Tita__Control__Response *resp;
	char a[INET6_ADDRSTRLEN], r1[32], r2[32], r3[32], r4[32], r5[32];

	char pacer[32];

	default_show_verb(&argc, &argv, "ports");
	no_more_args(argc, argv, "ports");
	/* titad runs one pacer for all ports (pacer = auto chose it from
	 * their RDMA devices): each row shows it. */
	{
		Tita__Control__Request srq = TITA__CONTROL__REQUEST__INIT;
		Tita__Control__StatusRequest sr = TITA__CONTROL__STATUS_REQUEST__INIT;

		srq.body_case = TITA__CONTROL__REQUEST__BODY_STATUS;
		srq.status = &sr;
		resp = call(&srq);
		expect(resp, TITA__CONTROL__RESPONSE__BODY_STATUS);
		snprintf(pacer, sizeof(pacer), "%s",
			 resp->status->pacer && resp->status->pacer[0] ? resp->status->pacer : "-");
		tita__control__response__free_unpacked(resp, NULL);
	}
	rq.body_case = TITA__CONTROL__REQUEST__BODY_PORTS;
	rq.ports = &pr;
	resp = call(&rq);
	expect(resp, TITA__CONTROL__RESPONSE__BODY_PORTS);
	if (json)
		printf("[");
	else
		printf("%-10s %-16s %-8s %10s %6s %10s %10s %10s %10s %9s %s\n", "IFNAME",
		       "ADDRESS", "PACER", "LINE", "ETA", "CAPACITY", "GRANTED", "RX", "TX",
		       "CE_PPM", "STATE");
	for (size_t i = 0; i < resp->ports->n_ports; i++) {
		const Tita__Control__Port *p = resp->ports->ports[i];

		addr_str(&p->addr, a, sizeof(a));
		if (json) {
			printf("%s{\"ifname\":", i ? "," : "");
			json_str(p->ifname);
			printf(",\"addr\":");
			json_str(a);
			printf(",\"pacer\":");
			json_str(pacer);
			printf(",\"line_rate_bps\":%llu,\"eta\":%g,\"capacity_bps\":%llu,"
			       "\"unmanaged_bps\":%llu,\"granted_bps\":%llu,\"rx_bps\":%llu,"
			       "\"tx_bps\":%llu,\"ce_ppm\":%u,\"state\":",
			       (unsigned long long)p->line_rate_bps, p->eta,
			       (unsigned long long)p->capacity_bps,
			       (unsigned long long)p->unmanaged_bps,
			       (unsigned long long)p->granted_bps, (unsigned long long)p->rx_bps,
			       (unsigned long long)p->tx_bps, p->ce_ppm);
			json_str(p->state && p->state[0] ? p->state : "unknown");
			printf("}");
		} else {
			printf("%-10s %-16s %-8s %10s %6.3f %10s %10s %10s %10s %9u %s\n",
			       p->ifname, a, pacer, rate_str(p->line_rate_bps, r1, sizeof(r1)),
			       p->eta, rate_str(p->capacity_bps, r2, sizeof(r2)),
			       rate_str(p->granted_bps, r3, sizeof(r3)),
			       rate_str(p->rx_bps, r4, sizeof(r4)),
			       rate_str(p->tx_bps, r5, sizeof(r5)), p->ce_ppm,
			       p->state && p->state[0] ? p->state : "-");
		}
	}
	if (json)
		printf("]\n");
	tita__control__response__free_unpacked(resp, NULL);
	return 0;
}

static void fabric_links_json(const char *name, Tita__Control__FabricLink **l, size_t n)
{
	printf(",\"%s\":[", name);
	for (size_t k = 0; k < n; k++)
		printf("%s{\"spine\":%u,\"capacity_bps\":%llu,\"demand_bps\":%llu,"
		       "\"allocated_bps\":%llu,\"entries\":%u,\"down\":%s}",
		       k ? "," : "", l[k]->spine, (unsigned long long)l[k]->capacity_bps,
		       (unsigned long long)l[k]->demand_bps,
		       (unsigned long long)l[k]->allocated_bps, l[k]->entries,
		       l[k]->down ? "true" : "false");
	printf("]");
}

static void fabric_port_text(const Tita__Control__FabricPort *p)
{
	char a[INET6_ADDRSTRLEN], ld[INET6_ADDRSTRLEN], ldd[INET6_ADDRSTRLEN], r1[32], r2[32],
		r3[32], r4[32], r5[32], r6[32], r7[32];

	addr_str(&p->addr, a, sizeof(a));
	if (!p->placed) {
		printf("%-10s %-16s no place: %s\n", p->ifname, a, p->why);
		return;
	}
	addr_str(&p->leader, ld, sizeof(ld));
	addr_str(&p->leader_down, ldd, sizeof(ldd));
	printf("%-10s %-16s %-12s %10u %6u %8s %7u %-8s %-16s %-16s %s%s%s\n", p->ifname, a,
	       p->leaf, p->leaf_id, p->spines, rate_str(p->spine_bps, r1, sizeof(r1)), p->members,
	       p->spine_map,
	       p->is_leader  ? "this NIC" :
	       p->leader.len ? ld :
			       "-",
	       p->is_leader_down  ? "this NIC" :
	       p->leader_down.len ? ldd :
				    "-",
	       p->lldp, p->lldp_neighbor[0] ? " " : "", p->lldp_neighbor);
	if (!p->n_up)
		return;
	printf("  leader of %s: %-5s %9s %9s %9s %9s %9s %9s\n", p->leaf, "SPINE", "UP_CAP",
	       "UP_DEMAND", "UP_ALLOC", "DOWN_CAP", "DOWN_DEM", "DOWN_ALLOC");
	for (size_t k = 0; k < p->n_up && k < p->n_down; k++)
		printf("  %*s %-5u %9s %9s %9s %9s %9s %9s%s\n", (int)(strlen(p->leaf) + 10), "",
		       p->up[k]->spine, rate_str(p->up[k]->capacity_bps, r2, sizeof(r2)),
		       rate_str(p->up[k]->demand_bps, r3, sizeof(r3)),
		       rate_str(p->up[k]->allocated_bps, r4, sizeof(r4)),
		       rate_str(p->down[k]->capacity_bps, r5, sizeof(r5)),
		       rate_str(p->down[k]->demand_bps, r6, sizeof(r6)),
		       rate_str(p->down[k]->allocated_bps, r7, sizeof(r7)),
		       p->up[k]->down || p->down[k]->down ? " (down)" : "");
}

static int cmd_fabric(int argc, char **argv)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__FabricRequest fq = TITA__CONTROL__FABRIC_REQUEST__INIT;
	Tita__Control__Response *resp;
	const Tita__Control__FabricResponse *f;

	default_show_verb(&argc, &argv, "fabric");
	no_more_args(argc, argv, "fabric");
	rq.body_case = TITA__CONTROL__REQUEST__BODY_FABRIC;
	rq.fabric = &fq;
	resp = call(&rq);
	expect(resp, TITA__CONTROL__RESPONSE__BODY_FABRIC);
	f = resp->fabric;
	if (json) {
		printf("{\"known\":%s,\"steer\":%s,\"can_move\":%s,\"topology_problems\":%u,"
		       "\"peer_places\":%u,\"peer_places_refused\":%llu,"
		       "\"paths\":{\"started\":%llu,\"applied\":%llu,"
		       "\"failed\":%llu,\"unsupported\":%llu},\"moves\":%llu,"
		       "\"moves_failed\":%llu,\"probes\":{\"sent\":%llu,\"spine\":%llu,"
		       "\"none\":%llu,\"refused\":%llu},\"leaf_reports\":%llu,"
		       "\"leaf_answers\":%llu,\"leaders_lost\":%llu,\"ports\":[",
		       f->known ? "true" : "false", f->steer ? "true" : "false",
		       f->can_move ? "true" : "false", f->topology_problems, f->peer_places,
		       (unsigned long long)f->peer_places_refused,
		       (unsigned long long)f->paths_started, (unsigned long long)f->paths_applied,
		       (unsigned long long)f->paths_failed,
		       (unsigned long long)f->paths_unsupported, (unsigned long long)f->moves,
		       (unsigned long long)f->moves_failed, (unsigned long long)f->probes_sent,
		       (unsigned long long)f->probe_answers_spine,
		       (unsigned long long)f->probe_answers_none,
		       (unsigned long long)f->probes_refused, (unsigned long long)f->leaf_reports,
		       (unsigned long long)f->leaf_answers, (unsigned long long)f->leaders_lost);
		for (size_t i = 0; i < f->n_ports; i++) {
			const Tita__Control__FabricPort *p = f->ports[i];
			char a[INET6_ADDRSTRLEN], ld[INET6_ADDRSTRLEN];

			addr_str(&p->addr, a, sizeof(a));
			addr_str(&p->leader, ld, sizeof(ld));
			printf("%s{\"ifname\":", i ? "," : "");
			json_str(p->ifname);
			printf(",\"addr\":");
			json_str(a);
			printf(",\"placed\":%s,\"why\":", p->placed ? "true" : "false");
			json_str(p->why);
			printf(",\"leaf\":");
			json_str(p->leaf);
			printf(",\"leaf_id\":%u,\"spines\":%u,\"spine_bps\":%llu,\"members\":%u,"
			       "\"spine_map\":",
			       p->leaf_id, p->spines, (unsigned long long)p->spine_bps, p->members);
			json_str(p->spine_map);
			printf(",\"spines_learned\":%u,\"leader\":", p->spines_learned);
			if (p->leader.len)
				json_str(ld);
			else
				printf("null");
			printf(",\"is_leader\":%s,\"leader_down\":",
			       p->is_leader ? "true" : "false");
			addr_str(&p->leader_down, ld, sizeof(ld));
			if (p->leader_down.len)
				json_str(ld);
			else
				printf("null");
			printf(",\"is_leader_down\":%s,\"lldp\":",
			       p->is_leader_down ? "true" : "false");
			json_str(p->lldp);
			printf(",\"lldp_neighbor\":");
			json_str(p->lldp_neighbor);
			printf(",\"lldp_port\":");
			json_str(p->lldp_port);
			fabric_links_json("up", p->up, p->n_up);
			fabric_links_json("down", p->down, p->n_down);
			printf("}");
		}
		printf("]}\n");
	} else {
		printf("topology: %s; steer %s; the pacer %s; %u remote NICs placed by the topology (%llu "
		       "places refused)\n",
		       !f->known	    ? "none ([fabric] topology)" :
		       f->topology_problems ? "read, with problems (see the log)" :
					      "read",
		       f->steer ? "on" : "off", f->can_move ? "moves paths" : "cannot move paths",
		       f->peer_places, (unsigned long long)f->peer_places_refused);
		printf("paths: %llu started, %llu applied, %llu failed, %llu refused (pacer); "
		       "moves %llu (%llu failed)\n",
		       (unsigned long long)f->paths_started, (unsigned long long)f->paths_applied,
		       (unsigned long long)f->paths_failed,
		       (unsigned long long)f->paths_unsupported, (unsigned long long)f->moves,
		       (unsigned long long)f->moves_failed);
		printf("probes: %llu sent, %llu answered by a spine, %llu without one, %llu not "
		       "sent; leaf reports %llu, answers %llu, leaders lost %llu\n",
		       (unsigned long long)f->probes_sent,
		       (unsigned long long)f->probe_answers_spine,
		       (unsigned long long)f->probe_answers_none,
		       (unsigned long long)f->probes_refused, (unsigned long long)f->leaf_reports,
		       (unsigned long long)f->leaf_answers, (unsigned long long)f->leaders_lost);
		printf("%-10s %-16s %-12s %10s %6s %8s %7s %-8s %-16s %-16s %s\n", "IFNAME",
		       "ADDRESS", "LEAF", "LEAF_ID", "SPINES", "UPLINK", "MEMBERS", "SPINES_BY",
		       "LEADER", "DOWN_LEADER", "LLDP");
		for (size_t i = 0; i < f->n_ports; i++)
			fabric_port_text(f->ports[i]);
	}
	tita__control__response__free_unpacked(resp, NULL);
	return 0;
}

/* ,"key":ratio */
static void json_ratio(const char *key, double v)
{
	printf(",\"%s\":%.6f", key, v);
}

static void health_json(const Tita__Control__HealthResponse *h)
{
	char a[INET6_ADDRSTRLEN];

	printf("{\"ready\":%s,\"interval_ns\":%llu,\"covered_ns\":%llu,\"ended_ago_ns\":%llu,"
	       "\"ports\":[",
	       h->ready ? "true" : "false", (unsigned long long)h->interval_ns,
	       (unsigned long long)h->covered_ns, (unsigned long long)h->ended_ago_ns);
	for (size_t i = 0; i < h->n_ports; i++) {
		const Tita__Control__HealthPort *p = h->ports[i];

		addr_str(&p->addr, a, sizeof(a));
		printf("%s{\"ifname\":", i ? "," : "");
		json_str(p->ifname);
		printf(",\"addr\":");
		json_str(a);
		printf(",\"line_rate_bps\":%llu,\"tx_bytes_per_second\":%.0f,"
		       "\"rx_bytes_per_second\":%.0f",
		       (unsigned long long)p->line_rate_bps, p->tx_bytes_per_second,
		       p->rx_bytes_per_second);
		json_ratio("tx_active_ratio", p->tx_active_ratio);
		json_ratio("tx_blocked_ratio", p->tx_blocked_ratio);
		json_ratio("tx_app_limited_ratio", p->tx_app_limited_ratio);
		json_ratio("rx_shortfall_ratio", p->rx_shortfall_ratio);
		json_ratio("ce_ratio", p->ce_ratio);
		json_ratio("loss_ratio", p->loss_ratio);
		if (p->pause_known)
			printf(",\"pause_tx_per_second\":%.3f,\"pause_rx_per_second\":%.3f",
			       p->pause_tx_per_second, p->pause_rx_per_second);
		else
			printf(",\"pause_tx_per_second\":null,\"pause_rx_per_second\":null");
		printf(",\"peers_silent\":%u}", p->peers_silent);
	}
	printf("],\"pairs\":[");
	for (size_t i = 0; i < h->n_pairs; i++) {
		const Tita__Control__HealthPair *p = h->pairs[i];

		addr_str(&p->remote, a, sizeof(a));
		printf("%s{\"ifname\":", i ? "," : "");
		json_str(p->ifname);
		printf(",\"peer\":");
		json_str(a);
		printf(",\"role\":\"%s\",\"spine\":",
		       p->role == TITA__CONTROL__PAIR_ROLE__PAIR_ROLE_TX ? "tx" : "rx");
		if (p->has_spine)
			printf("%u", p->spine);
		else
			printf("null");
		json_ratio("shortfall_ratio", p->shortfall_ratio);
		json_ratio("loss_ratio", p->loss_ratio);
		printf("}");
	}
	printf("],\"silent\":[");
	for (size_t i = 0; i < h->n_silent; i++) {
		addr_str(&h->silent[i]->remote, a, sizeof(a));
		printf("%s{\"ifname\":", i ? "," : "");
		json_str(h->silent[i]->ifname);
		printf(",\"peer\":");
		json_str(a);
		printf(",\"silent_seconds\":%.3f}", h->silent[i]->silent_seconds);
	}
	printf("],\"jobs\":[");
	for (size_t i = 0; i < h->n_jobs; i++) {
		printf("%s{\"job\":", i ? "," : "");
		json_str(h->jobs[i]->job);
		printf(",\"tx_bytes_per_second\":%.0f,\"rx_bytes_per_second\":%.0f}",
		       h->jobs[i]->tx_bytes_per_second, h->jobs[i]->rx_bytes_per_second);
	}
	printf("],\"untracked\":{");
	for (size_t i = 0; i < h->n_untracked; i++) {
		printf("%s", i ? "," : "");
		json_str(h->untracked[i]->reason);
		printf(":%llu", (unsigned long long)h->untracked[i]->count);
	}
	printf("}}\n");
}

static const char *per_sec_or_na(bool known, double v, char *buf, size_t size)
{
	if (!known)
		return "-";
	snprintf(buf, size, "%.1f", v);
	return buf;
}

static void health_text(const Tita__Control__HealthResponse *h)
{
	char a[INET6_ADDRSTRLEN], tx[32], rx[32], ptx[32], prx[32];
	uint64_t untracked = 0;

	if (!h->ready) {
		printf("no health interval has ended yet (interval %.3gs)\n",
		       (double)h->interval_ns / 1e9);
		return;
	}
	printf("interval %.3gs, ended %.3fs ago\n", (double)h->covered_ns / 1e9,
	       (double)h->ended_ago_ns / 1e9);
	printf("%-10s %10s %10s %6s %7s %7s %9s %6s %6s %8s %8s %6s\n", "PORT", "TX", "RX",
	       "ACTIVE", "BLOCKED", "APP_LTD", "SHORTFALL", "CE", "LOSS", "PAUSE_TX", "PAUSE_RX",
	       "SILENT");
	for (size_t i = 0; i < h->n_ports; i++) {
		const Tita__Control__HealthPort *p = h->ports[i];

		printf("%-10s %10s %10s %6.3f %7.3f %7.3f %9.3f %6.3f %6.3f %8s %8s %6u\n",
		       p->ifname, rate_str((uint64_t)(p->tx_bytes_per_second * 8), tx, sizeof(tx)),
		       rate_str((uint64_t)(p->rx_bytes_per_second * 8), rx, sizeof(rx)),
		       p->tx_active_ratio, p->tx_blocked_ratio, p->tx_app_limited_ratio,
		       p->rx_shortfall_ratio, p->ce_ratio, p->loss_ratio,
		       per_sec_or_na(p->pause_known, p->pause_tx_per_second, ptx, sizeof(ptx)),
		       per_sec_or_na(p->pause_known, p->pause_rx_per_second, prx, sizeof(prx)),
		       p->peers_silent);
	}
	if (h->n_pairs) {
		printf("\nworst pairs\n%-10s %-40s %-4s %5s %9s %6s\n", "PORT", "PEER", "ROLE",
		       "SPINE", "SHORTFALL", "LOSS");
		for (size_t i = 0; i < h->n_pairs; i++) {
			const Tita__Control__HealthPair *p = h->pairs[i];
			char sp[12] = "-";

			addr_str(&p->remote, a, sizeof(a));
			if (p->has_spine)
				snprintf(sp, sizeof(sp), "%u", p->spine);
			printf("%-10s %-40s %-4s %5s %9.3f %6.3f\n", p->ifname, a,
			       p->role == TITA__CONTROL__PAIR_ROLE__PAIR_ROLE_TX ? "tx" : "rx", sp,
			       p->shortfall_ratio, p->loss_ratio);
		}
	}
	if (h->n_silent) {
		printf("\nsilent peers\n%-10s %-40s %10s\n", "PORT", "PEER", "SILENT");
		for (size_t i = 0; i < h->n_silent; i++) {
			addr_str(&h->silent[i]->remote, a, sizeof(a));
			printf("%-10s %-40s %9.1fs\n", h->silent[i]->ifname, a,
			       h->silent[i]->silent_seconds);
		}
	}
	if (h->n_jobs) {
		printf("\n%-32s %10s %10s\n", "JOB", "TX", "RX");
		for (size_t i = 0; i < h->n_jobs; i++)
			printf("%-32s %10s %10s\n", h->jobs[i]->job,
			       rate_str((uint64_t)(h->jobs[i]->tx_bytes_per_second * 8), tx,
					sizeof(tx)),
			       rate_str((uint64_t)(h->jobs[i]->rx_bytes_per_second * 8), rx,
					sizeof(rx)));
	}
	for (size_t i = 0; i < h->n_untracked; i++)
		untracked += h->untracked[i]->count;
	if (untracked) {
		printf("\nbeyond the health bounds:");
		for (size_t i = 0; i < h->n_untracked; i++)
			if (h->untracked[i]->count)
				printf(" %s %llu", h->untracked[i]->reason,
				       (unsigned long long)h->untracked[i]->count);
		printf("\n");
	}
}

static int cmd_health(int argc, char **argv)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__HealthRequest hq = TITA__CONTROL__HEALTH_REQUEST__INIT;
	Tita__Control__Response *resp;

	default_show_verb(&argc, &argv, "health");
	no_more_args(argc, argv, "health");
	rq.body_case = TITA__CONTROL__REQUEST__BODY_HEALTH;
	rq.health = &hq;
	resp = call(&rq);
	expect(resp, TITA__CONTROL__RESPONSE__BODY_HEALTH);
	if (json)
		health_json(resp->health);
	else
		health_text(resp->health);
	tita__control__response__free_unpacked(resp, NULL);
	return 0;
}

static int cmd_peers(int argc, char **argv)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__PeersRequest pr = TITA__CONTROL__PEERS_REQUEST__INIT;
	Tita__Control__Response *resp;
	char a[INET6_ADDRSTRLEN];

	default_show_verb(&argc, &argv, "peers");
	no_more_args(argc, argv, "peers");
	rq.body_case = TITA__CONTROL__REQUEST__BODY_PEERS;
	rq.peers = &pr;
	resp = call(&rq);
	expect(resp, TITA__CONTROL__RESPONSE__BODY_PEERS);
	if (json)
		printf("[");
	else
		printf("%-40s %5s %12s %10s %10s %8s %4s\n", "PEER", "HEARD", "LAST_HEARD", "IN",
		       "OUT", "DROPS", "WIRE");
	for (size_t i = 0; i < resp->peers->n_peers; i++) {
		const Tita__Control__Peer *p = resp->peers->peers[i];

		addr_str(&p->addr, a, sizeof(a));
		if (json) {
			printf("%s{\"addr\":", i ? "," : "");
			json_str(a);
			printf(",\"heard\":%s", p->heard ? "true" : "false");
			/* Never heard: no time since, no boot id, no cadence. */
			json_field_u64("last_heard_ago_ns", p->heard, p->last_heard_ago_ns);
			if (p->heard)
				json_field_id("boot_id", p->boot_id);
			else
				printf(",\"boot_id\":null");
			printf(",\"datagrams_in\":%llu,\"datagrams_out\":%llu,\"drops\":%llu",
			       (unsigned long long)p->datagrams_in,
			       (unsigned long long)p->datagrams_out, (unsigned long long)p->drops);
			json_field_u64("control_interval_ns", p->heard, p->control_interval_ns);
			json_field_u64("grant_ttl_ns", p->heard, p->grant_ttl_ns);
			printf(",\"wire_version\":%u", (unsigned)p->wire_version);
			printf(",\"drops_by_reason\":{");
			for (size_t k = 0; k < p->n_drops_by_reason; k++) {
				printf(k ? "," : "");
				json_str(p->drops_by_reason[k]->reason);
				printf(":%llu", (unsigned long long)p->drops_by_reason[k]->count);
			}
			printf("}}");
		} else {
			char ago[32];

			if (p->heard)
				snprintf(ago, sizeof(ago), "%.3fs",
					 (double)p->last_heard_ago_ns / 1e9);
			else
				snprintf(ago, sizeof(ago), "-");
			printf("%-40s %5s %12s %10llu %10llu %8llu %4u\n", a,
			       p->heard ? "yes" : "no", ago, (unsigned long long)p->datagrams_in,
			       (unsigned long long)p->datagrams_out, (unsigned long long)p->drops,
			       (unsigned)p->wire_version);
		}
	}
	if (json)
		printf("]\n");
	tita__control__response__free_unpacked(resp, NULL);
	return 0;
}

static const char *state_name(Tita__Control__PairState s)
{
	switch (s) {
	case TITA__CONTROL__PAIR_STATE__PAIR_STATE_STARTING:
		return "starting";
	case TITA__CONTROL__PAIR_STATE__PAIR_STATE_GRANTED:
		return "granted";
	case TITA__CONTROL__PAIR_STATE__PAIR_STATE_FAIL_OPEN:
		return "fail-open";
	case TITA__CONTROL__PAIR_STATE__PAIR_STATE_ACTIVE:
		return "active";
	case TITA__CONTROL__PAIR_STATE__PAIR_STATE_UNMANAGED:
		return "unmanaged";
	default:
		return "unknown";
	}
}

static void addr_arg(const char *what, const char *s, uint8_t *buf, ProtobufCBinaryData *ret)
{
	struct tita_addr a;

	if (tita_parse_addr(s, &a))
		usage_error("%s: '%s' is not an IP address", what, s);
	if (tita_addr_is_ipv4(&a) && !strchr(s, ':')) {
		memcpy(buf, &a.bytes[12], 4);
		ret->len = 4;
	} else {
		memcpy(buf, a.bytes, 16);
		ret->len = 16;
	}
	ret->data = buf;
}

/* The address of titad's port on netdev ifname: what dev IFNAME filters on. */
static void dev_arg(const char *ifname, uint8_t *buf, ProtobufCBinaryData *ret)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__PortsRequest pr = TITA__CONTROL__PORTS_REQUEST__INIT;
	Tita__Control__Response *resp;
	bool found = false;

	rq.body_case = TITA__CONTROL__REQUEST__BODY_PORTS;
	rq.ports = &pr;
	resp = call(&rq);
	expect(resp, TITA__CONTROL__RESPONSE__BODY_PORTS);
	for (size_t i = 0; i < resp->ports->n_ports && !found; i++) {
		const Tita__Control__Port *p = resp->ports->ports[i];

		if (strcmp(p->ifname, ifname) || (p->addr.len != 4 && p->addr.len != 16))
			continue;
		memcpy(buf, p->addr.data, p->addr.len);
		ret->len = p->addr.len;
		ret->data = buf;
		found = true;
	}
	tita__control__response__free_unpacked(resp, NULL);
	if (!found) {
		fprintf(stderr,
			"titactl: pairs: titad has no port on '%s' (titactl ports lists them)\n",
			ifname);
		exit(1);
	}
}

/*
 * What does not apply to a pair, shown as null and "-" rather than as a
 * 0 that reads like a measurement: an rx pair has no ceiling, programmed
 * rate or CNPs of its own; a tx pair without a live grant (starting,
 * fail-open) has no grant, and fail-open none to expire; a source that
 * sends no demand has neither demand nor grant.
 */
struct pair_na {
	bool demand, grant, ceiling, rate, cnp, expires;
};

static struct pair_na pair_na(const Tita__Control__Pair *p)
{
	bool tx = p->role == TITA__CONTROL__PAIR_ROLE__PAIR_ROLE_TX;
	bool unmanaged = p->state == TITA__CONTROL__PAIR_STATE__PAIR_STATE_UNMANAGED;
	bool fail_open = p->state == TITA__CONTROL__PAIR_STATE__PAIR_STATE_FAIL_OPEN;

	return (struct pair_na){
		.demand = unmanaged,
		.grant = unmanaged ||
			 (tx && p->state != TITA__CONTROL__PAIR_STATE__PAIR_STATE_GRANTED),
		.ceiling = !tx,
		.rate = !tx || p->unpaced,
		.cnp = !tx,
		.expires = unmanaged || (tx && fail_open),
	};
}

static int cmd_pairs(int argc, char **argv)
{
	static const struct word keys[] = { { "dev" },	  { "job" },  { "local" }, { "peer" },
					    { "remote" }, { "role" }, { NULL } };
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__PairsRequest pr = TITA__CONTROL__PAIRS_REQUEST__INIT;
	uint8_t local[16], remote[16];
	const char *dev = NULL;
	uint64_t shown = 0;
	bool first = true;

	default_show_verb(&argc, &argv, "pairs");
	while (argc > 0) {
		size_t k = lookup(keys, sizeof(keys[0]), argv[0], "pairs: ", "filter");

		if (argc < 2)
			usage_error("pairs: '%s' needs a value", keys[k].name);
		switch (k) {
		case 0:
			if (!argv[1][0] || strlen(argv[1]) >= 16 || strchr(argv[1], '/'))
				usage_error("pairs: dev '%s' is not an interface name", argv[1]);
			dev = argv[1];
			break;
		case 1:
			if (!tita_job_name_valid(argv[1]))
				usage_error("pairs: job '%s' is not a job name", argv[1]);
			pr.job = argv[1];
			break;
		case 2:
			addr_arg("pairs: local", argv[1], local, &pr.local);
			break;
		case 3:
		case 4:
			addr_arg("pairs: peer", argv[1], remote, &pr.remote);
			break;
		default:
			if (!strcmp(argv[1], "tx"))
				pr.role = TITA__CONTROL__PAIR_ROLE__PAIR_ROLE_TX;
			else if (!strcmp(argv[1], "rx"))
				pr.role = TITA__CONTROL__PAIR_ROLE__PAIR_ROLE_RX;
			else
				usage_error("pairs: role '%s' is not tx or rx", argv[1]);
		}
		argc -= 2;
		argv += 2;
	}
	if (dev && pr.local.len)
		usage_error("pairs: dev and local both name the local end; give one");
	if (dev)
		dev_arg(dev, local, &pr.local);
	rq.body_case = TITA__CONTROL__REQUEST__BODY_PAIRS;
	rq.pairs = &pr;
	for (;;) {
		Tita__Control__Response *resp;
		size_t n;

		pr.offset = (uint32_t)shown;
		resp = call(&rq);
		expect(resp, TITA__CONTROL__RESPONSE__BODY_PAIRS);
		/* After the first answer: a titad that cannot be reached prints no header. */
		if (!shown && json)
			printf("[");
		else if (!shown)
			printf("%-4s %-16s %-16s %-12s %-9s %10s %10s %10s %10s %10s %7s %7s\n",
			       "ROLE", "LOCAL", "REMOTE", "JOB", "STATE", "DEMAND", "GRANT",
			       "CEILING", "RATE", "MEASURED", "CE_PPM", "CNP/S");
		n = resp->pairs->n_pairs;
		for (size_t i = 0; i < n; i++) {
			const Tita__Control__Pair *p = resp->pairs->pairs[i];
			char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
			const char *role =
				p->role == TITA__CONTROL__PAIR_ROLE__PAIR_ROLE_TX ? "tx" : "rx";

			struct pair_na na = pair_na(p);

			addr_str(&p->local, l, sizeof(l));
			addr_str(&p->remote, r, sizeof(r));
			if (json) {
				printf("%s{\"role\":\"%s\",\"local\":", first ? "" : ",", role);
				json_str(l);
				printf(",\"remote\":");
				json_str(r);
				printf(",\"job\":");
				json_str(p->job);
				printf(",\"job_id\":%u,\"state\":\"%s\"", p->job_id,
				       state_name(p->state));
				json_field_u64("demand_bps", !na.demand, p->demand_bps);
				json_field_u64("grant_bps", !na.grant, p->grant_bps);
				json_field_u64("ceiling_bps", !na.ceiling, p->ceiling_bps);
				json_field_u64("rate_bps", !na.rate, p->rate_bps);
				printf(",\"unpaced\":%s", p->unpaced ? "true" : "false");
				json_field_u64("measured_bps", true, p->measured_bps);
				printf(",\"ce_ppm\":%u", p->ce_ppm);
				json_field_u64("cnp_per_sec", !na.cnp, p->cnp_per_sec);
				json_field_u64("expires_in_ns", !na.expires, p->expires_in_ns);
				json_field_u64("spine", p->spine != 0xffff /* TITA_SPINE_NONE */,
					       p->spine);
				printf(",\"sport\":%u", p->sport);
				json_field_u64("leaf_cap_bps", true, p->leaf_cap_bps);
				printf(",\"moving\":%s}", p->moving ? "true" : "false");
			} else {
				char d1[32], d2[32], d3[32], d4[32], d5[32], cnp[24];

				snprintf(cnp, sizeof(cnp), "%llu",
					 (unsigned long long)p->cnp_per_sec);
				printf("%-4s %-16s %-16s %-12s %-9s %10s %10s %10s %10s %10s %7u %7s\n",
				       role, l, r, p->job, state_name(p->state),
				       rate_or_na(!na.demand, p->demand_bps, d1, sizeof(d1)),
				       rate_or_na(!na.grant, p->grant_bps, d2, sizeof(d2)),
				       rate_or_na(!na.ceiling, p->ceiling_bps, d3, sizeof(d3)),
				       p->unpaced && !na.rate ?
					       "unpaced" :
					       rate_or_na(!na.rate, p->rate_bps, d4, sizeof(d4)),
				       rate_str(p->measured_bps, d5, sizeof(d5)), p->ce_ppm,
				       na.cnp ? "-" : cnp);
			}
			first = false;
		}
		shown += n;
		bool done = n == 0 || shown >= resp->pairs->total;

		tita__control__response__free_unpacked(resp, NULL);
		if (done)
			break;
	}
	if (json)
		printf("]\n");
	return 0;
}

/* ---- qps -------------------------------------------------------------------------------- */

static int cmd_qps(int argc, char **argv)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__QpsRequest qr = TITA__CONTROL__QPS_REQUEST__INIT;
	char discovery[32] = "";
	uint64_t shown = 0;
	uint32_t cut = 0;
	bool first = true;

	if (argc > 0 && !strcmp(argv[0], "help")) {
		printf("Usage: titactl [-j] qps [show] [job NAME] [device DEV]\n"
		       "The RDMA QPs of titad's last discovery scan and the jobs of their owners.\n");
		return 0;
	}
	default_show_verb(&argc, &argv, "qps");
	while (argc > 0) {
		static const struct word keys[] = { { "device" }, { "job" }, { NULL } };
		size_t k = lookup(keys, sizeof(keys[0]), argv[0], "qps: ", "filter");

		if (argc < 2)
			usage_error("qps: '%s' needs a value", keys[k].name);
		if (k == 1) {
			if (!tita_job_name_valid(argv[1]))
				usage_error("qps: job '%s' is not a job name", argv[1]);
			qr.job = argv[1];
		} else {
			if (!argv[1][0] || strlen(argv[1]) >= 64 || strchr(argv[1], '/'))
				usage_error("qps: device '%s' is not an RDMA device name", argv[1]);
			qr.device = argv[1];
		}
		argc -= 2;
		argv += 2;
	}
	rq.body_case = TITA__CONTROL__REQUEST__BODY_QPS;
	rq.qps = &qr;
	for (;;) {
		Tita__Control__Response *resp;
		size_t n;
		bool done;

		qr.offset = (uint32_t)shown;
		resp = call(&rq);
		expect(resp, TITA__CONTROL__RESPONSE__BODY_QPS);
		if (first) {
			snprintf(discovery, sizeof(discovery), "%s", resp->qps->discovery);
			cut = resp->qps->cut;
			if (json)
				printf("[");
			else
				printf("%-12s %4s %8s %8s %-10s %-5s %8s %s\n", "DEVICE", "PORT",
				       "LQPN", "RQPN", "TYPE", "STATE", "PID", "JOB");
		}
		n = resp->qps->n_qps;
		for (size_t i = 0; i < n; i++) {
			const Tita__Control__Qp *q = resp->qps->qps[i];

			if (json) {
				printf("%s{\"device\":", first ? "" : ",");
				json_str(q->device);
				printf(",\"port\":%u,\"lqpn\":%u,\"rqpn\":", q->port, q->lqpn);
				if (q->has_rqpn)
					printf("%u", q->rqpn);
				else
					printf("null");
				printf(",\"type\":");
				json_str(q->type);
				printf(",\"state\":");
				json_str(q->state);
				printf(",\"pid\":");
				if (q->has_pid)
					printf("%u", q->pid);
				else
					printf("null");
				printf(",\"kern_name\":");
				json_str(q->kern_name);
				printf(",\"job\":");
				json_str(q->job);
				printf("}");
			} else {
				char pid[16], rqpn[16], job[80];

				snprintf(pid, sizeof(pid), "%u", q->pid);
				snprintf(rqpn, sizeof(rqpn), "%u", q->rqpn);
				/* A kernel QP's owner, as ps shows kernel threads. */
				if (!q->has_pid)
					snprintf(job, sizeof(job), "[%s]",
						 q->kern_name[0] ? q->kern_name : "kernel");
				else
					snprintf(job, sizeof(job), "%s", q->job[0] ? q->job : "-");
				printf("%-12s %4u %8u %8s %-10s %-5s %8s %s\n", q->device, q->port,
				       q->lqpn, q->has_rqpn ? rqpn : "-", q->type, q->state,
				       q->has_pid ? pid : "-", job);
			}
			first = false;
		}
		first = false;
		shown += n;
		done = n == 0 || shown >= resp->qps->total;
		tita__control__response__free_unpacked(resp, NULL);
		if (done)
			break;
	}
	if (json) {
		printf("]\n");
	} else if (strcmp(discovery, "ok") || cut) {
		/* Why the table is empty or short: a comment, not a row. */
		printf("# qp discovery: %s", discovery[0] ? discovery : "unknown");
		if (cut)
			printf(", %u QPs beyond titad's bound not listed", cut);
		printf("\n");
	}
	return 0;
}

/* ---- monitor ---------------------------------------------------------------------------- */

/*
 * titactl monitor: what changes, a line each, as ip monitor prints it.
 * The control protocol answers requests, so this asks for the peers,
 * pairs and ports every MONITOR_INTERVAL_MS and prints the differences: a
 * change that comes and goes between two looks is not seen (titad's log
 * and metrics count every one).
 */
#define MONITOR_INTERVAL_MS 200
/* A grant line is printed when the grant moves by more than this. */
#define MONITOR_GRANT_FRAC 0.10
/* As titad's log: not heard for 3 hellos is lost. */
#define MONITOR_LOST_NS 3000000000ull

struct mon_peer {
	char addr[INET6_ADDRSTRLEN];
	bool heard, lost;
};

struct mon_pair {
	char key[2 * INET6_ADDRSTRLEN + 80]; /* role local remote job */
	Tita__Control__PairState state;
	uint64_t grant_bps;
	bool has_grant;
};

struct mon_port {
	char ifname[32], state[64];
};

struct mon_snap {
	struct mon_peer *peers;
	size_t n_peers;
	struct mon_pair *pairs;
	size_t n_pairs;
	struct mon_port *ports;
	size_t n_ports;
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "titactl: out of memory\n");
		exit(1);
	}
	return q;
}

static void mon_free(struct mon_snap *s)
{
	free(s->peers);
	free(s->pairs);
	free(s->ports);
	*s = (struct mon_snap){ 0 };
}

static void mon_take(struct mon_snap *s, bool want_peers, bool want_pairs, bool want_ports)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__Response *resp;

	if (want_peers) {
		Tita__Control__PeersRequest pr = TITA__CONTROL__PEERS_REQUEST__INIT;

		rq.body_case = TITA__CONTROL__REQUEST__BODY_PEERS;
		rq.peers = &pr;
		resp = call(&rq);
		expect(resp, TITA__CONTROL__RESPONSE__BODY_PEERS);
		s->n_peers = resp->peers->n_peers;
		s->peers = xrealloc(NULL, s->n_peers * sizeof(*s->peers));
		for (size_t i = 0; i < s->n_peers; i++) {
			const Tita__Control__Peer *p = resp->peers->peers[i];

			addr_str(&p->addr, s->peers[i].addr, sizeof(s->peers[i].addr));
			s->peers[i].heard = p->heard;
			s->peers[i].lost = p->heard && p->last_heard_ago_ns > MONITOR_LOST_NS;
		}
		tita__control__response__free_unpacked(resp, NULL);
	}
	if (want_pairs) {
		Tita__Control__PairsRequest pr = TITA__CONTROL__PAIRS_REQUEST__INIT;

		rq.body_case = TITA__CONTROL__REQUEST__BODY_PAIRS;
		rq.pairs = &pr;
		for (;;) {
			size_t n;
			bool done;

			pr.offset = (uint32_t)s->n_pairs;
			resp = call(&rq);
			expect(resp, TITA__CONTROL__RESPONSE__BODY_PAIRS);
			n = resp->pairs->n_pairs;
			s->pairs = xrealloc(s->pairs, (s->n_pairs + n) * sizeof(*s->pairs));
			for (size_t i = 0; i < n; i++) {
				const Tita__Control__Pair *p = resp->pairs->pairs[i];
				struct mon_pair *m = &s->pairs[s->n_pairs + i];
				char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];

				snprintf(m->key, sizeof(m->key), "%s %s -> %s job %s",
					 p->role == TITA__CONTROL__PAIR_ROLE__PAIR_ROLE_TX ? "tx" :
											     "rx",
					 addr_str(&p->local, l, sizeof(l)),
					 addr_str(&p->remote, r, sizeof(r)), p->job);
				m->state = p->state;
				m->grant_bps = p->grant_bps;
				m->has_grant = !pair_na(p).grant;
			}
			s->n_pairs += n;
			done = n == 0 || s->n_pairs >= resp->pairs->total;
			tita__control__response__free_unpacked(resp, NULL);
			if (done)
				break;
		}
	}
	if (want_ports) {
		Tita__Control__PortsRequest pr = TITA__CONTROL__PORTS_REQUEST__INIT;

		rq.body_case = TITA__CONTROL__REQUEST__BODY_PORTS;
		rq.ports = &pr;
		resp = call(&rq);
		expect(resp, TITA__CONTROL__RESPONSE__BODY_PORTS);
		s->n_ports = resp->ports->n_ports;
		s->ports = xrealloc(NULL, s->n_ports * sizeof(*s->ports));
		for (size_t i = 0; i < s->n_ports; i++) {
			const Tita__Control__Port *p = resp->ports->ports[i];

			snprintf(s->ports[i].ifname, sizeof(s->ports[i].ifname), "%s", p->ifname);
			snprintf(s->ports[i].state, sizeof(s->ports[i].state), "%s",
				 p->state && p->state[0] ? p->state : "up");
		}
		tita__control__response__free_unpacked(resp, NULL);
	}
}

/* One event: "[12:00:01.250] peer 10.0.0.2 lost", or a JSON line. */
static void mon_event(const char *object, const char *name, const char *event, const char *detail)
{
	struct timespec ts;
	struct tm tm;
	char when[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	if (json) {
		printf("{\"time\":%lld.%03ld,\"object\":", (long long)ts.tv_sec,
		       ts.tv_nsec / 1000000);
		json_str(object);
		printf(",\"name\":");
		json_str(name);
		printf(",\"event\":");
		json_str(event);
		printf(",\"detail\":");
		json_str(detail);
		printf("}\n");
	} else {
		printf("[%s.%03ld] %s %s %s%s%s\n", when, ts.tv_nsec / 1000000, object, name, event,
		       detail[0] ? " " : "", detail);
	}
	fflush(stdout);
}

static void mon_diff(const struct mon_snap *a, const struct mon_snap *b)
{
	char d[128];

	for (size_t i = 0; i < b->n_peers; i++) {
		const struct mon_peer *p = &b->peers[i], *was = NULL;

		for (size_t k = 0; k < a->n_peers && !was; k++)
			if (!strcmp(a->peers[k].addr, p->addr))
				was = &a->peers[k];
		if (p->heard && (!was || !was->heard) && !p->lost)
			mon_event("peer", p->addr, "heard", "");
		else if (was && was->heard && !was->lost && p->lost)
			mon_event("peer", p->addr, "lost", "(not heard for 3s)");
		else if (was && was->lost && p->heard && !p->lost)
			mon_event("peer", p->addr, "back", "");
	}
	for (size_t k = 0; k < a->n_peers; k++) {
		bool there = false;

		for (size_t i = 0; i < b->n_peers && !there; i++)
			there = !strcmp(a->peers[k].addr, b->peers[i].addr);
		if (!there)
			mon_event("peer", a->peers[k].addr, "gone", "(left the peer table)");
	}
	for (size_t i = 0; i < b->n_pairs; i++) {
		const struct mon_pair *p = &b->pairs[i], *was = NULL;
		char g1[32], g2[32];

		for (size_t k = 0; k < a->n_pairs && !was; k++)
			if (!strcmp(a->pairs[k].key, p->key))
				was = &a->pairs[k];
		if (!was) {
			snprintf(d, sizeof(d), "%s", state_name(p->state));
			mon_event("pair", p->key, "new", d);
			continue;
		}
		if (was->state != p->state) {
			snprintf(d, sizeof(d), "%s -> %s", state_name(was->state),
				 state_name(p->state));
			mon_event("pair", p->key, "state", d);
		}
		if (was->has_grant != p->has_grant ||
		    (p->has_grant &&
		     fabs((double)p->grant_bps - (double)was->grant_bps) >
			     MONITOR_GRANT_FRAC * (double)(was->grant_bps ? was->grant_bps : 1))) {
			snprintf(d, sizeof(d), "%s -> %s",
				 rate_or_na(was->has_grant, was->grant_bps, g1, sizeof(g1)),
				 rate_or_na(p->has_grant, p->grant_bps, g2, sizeof(g2)));
			mon_event("pair", p->key, "grant", d);
		}
	}
	for (size_t k = 0; k < a->n_pairs; k++) {
		bool there = false;

		for (size_t i = 0; i < b->n_pairs && !there; i++)
			there = !strcmp(a->pairs[k].key, b->pairs[i].key);
		if (!there)
			mon_event("pair", a->pairs[k].key, "gone", "");
	}
	for (size_t i = 0; i < b->n_ports; i++)
		for (size_t k = 0; k < a->n_ports; k++)
			if (!strcmp(a->ports[k].ifname, b->ports[i].ifname) &&
			    strcmp(a->ports[k].state, b->ports[i].state)) {
				snprintf(d, sizeof(d), "%s -> %s", a->ports[k].state,
					 b->ports[i].state);
				mon_event("port", b->ports[i].ifname, "state", d);
			}
}

static int cmd_monitor(int argc, char **argv)
{
	static const struct word what[] = { { "all" },	 { "peers" }, { "pairs" },
					    { "ports" }, { "help" },  { NULL } };
	struct mon_snap a = { 0 }, b = { 0 };
	size_t k = 0;

	if (argc > 0)
		k = lookup(what, sizeof(what[0]), argv[0], "monitor: ", "object");
	if (k == 4) {
		printf("Usage: titactl [-j] monitor [all | peers | pairs | ports]\n"
		       "Print each change as it is seen (every %d ms): peers heard, lost, back and\n"
		       "gone; pairs new, gone, their state (granted, fail-open) and grants moving\n"
		       "by more than %.0f%%; ports going down and up. Ctrl-C ends it.\n",
		       MONITOR_INTERVAL_MS, MONITOR_GRANT_FRAC * 100);
		return 0;
	}
	no_more_args(argc - (argc > 0), argv + (argc > 0), "monitor");
	mon_take(&a, k == 0 || k == 1, k == 0 || k == 2, k == 0 || k == 3);
	for (;;) {
		struct timespec t = { 0, MONITOR_INTERVAL_MS * 1000000L };

		nanosleep(&t, NULL);
		mon_take(&b, k == 0 || k == 1, k == 0 || k == 2, k == 0 || k == 3);
		mon_diff(&a, &b);
		mon_free(&a);
		a = b;
		b = (struct mon_snap){ 0 };
	}
}

/* ---- job -------------------------------------------------------------------------------- */

static void print_jobs(const Tita__Control__Response *resp)
{
	const Tita__Control__JobsResponse *jr = resp->jobs;
	char r1[32], r2[32];

	if (json)
		printf("[");
	else
		printf("%-24s %10s %8s %10s %10s %6s %s\n", "JOB", "ID", "WEIGHT", "MIN", "MAX",
		       "QPS", "CONFIGURED");
	for (size_t i = 0; i < jr->n_jobs; i++) {
		const Tita__Control__Job *j = jr->jobs[i];

		if (json) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(j->name);
			printf(",\"job_id\":%u,\"weight\":%g", j->job_id, j->weight);
			/* 0 is none: no minimum, no cap. */
			json_field_u64("min_bps", j->min_bps, j->min_bps);
			json_field_u64("max_bps", j->max_bps, j->max_bps);
			printf(",\"configured\":%s,\"qps\":%u,\"discovered\":%s}",
			       j->configured ? "true" : "false", j->qps,
			       j->discovered ? "true" : "false");
		} else {
			printf("%-24s %10u %8.3f %10s %10s %6u %s\n", j->name, j->job_id, j->weight,
			       j->min_bps ? rate_str(j->min_bps, r1, sizeof(r1)) : "-",
			       j->max_bps ? rate_str(j->max_bps, r2, sizeof(r2)) : "-", j->qps,
			       j->configured ? "yes" : "no");
		}
	}
	if (json)
		printf("]\n");
}

/* Every job verb answers with the jobs as they are now. */
static int call_jobs(Tita__Control__Request *rq)
{
	Tita__Control__Response *resp = call(rq);

	expect(resp, TITA__CONTROL__RESPONSE__BODY_JOBS);
	print_jobs(resp);
	tita__control__response__free_unpacked(resp, NULL);
	return 0;
}

static void job_name_arg(const char *verb, int argc, char **argv)
{
	if (argc < 1)
		usage_error("job %s: missing job name", verb);
	if (!tita_job_name_valid(argv[0]))
		usage_error("job %s: '%s' is not a job name (1..%d letters, digits, '_', '-', '.')",
			    verb, argv[0], TITA_JOB_NAME_MAX);
}

static uint64_t rate_arg(const char *opt, const char *v)
{
	uint64_t bps;
	int r = tita_parse_rate(v, &bps);

	if (r == -ERANGE)
		usage_error("job set: %s '%s' is above 3.2T", opt, v);
	if (r)
		usage_error("job set: %s '%s' is not a rate (e.g. 25G, 400Mbit, 3.2T, or bit/s)",
			    opt, v);
	return bps;
}

static int job_set(int argc, char **argv)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__JobSetRequest js = TITA__CONTROL__JOB_SET_REQUEST__INIT;

	job_name_arg("set", argc, argv);
	js.name = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val;
		char *eq = strchr(argv[i], '=');
		char optbuf[32];

		if (eq && (size_t)(eq - opt) < sizeof(optbuf)) {
			memcpy(optbuf, opt, (size_t)(eq - opt));
			optbuf[eq - opt] = '\0';
			opt = optbuf;
			val = eq + 1;
		} else {
			if (strcmp(opt, "--weight") && strcmp(opt, "--min") && strcmp(opt, "--max"))
				usage_error("job set: unknown option '%s' (--weight, --min, --max)",
					    opt);
			if (i + 1 >= argc)
				usage_error("job set: %s needs a value", opt);
			val = argv[++i];
		}
		if (!strcmp(opt, "--weight")) {
			double w;

			if (js.weight_present_case)
				usage_error("job set: --weight given twice");
			if (tita_parse_double(val, &w))
				usage_error("job set: --weight '%s' is not a number", val);
			if (!(w >= 0.001 && w <= 1000))
				usage_error("job set: --weight %s is out of range (0.001..1000)",
					    val);
			js.weight_present_case =
				TITA__CONTROL__JOB_SET_REQUEST__WEIGHT_PRESENT_WEIGHT;
			js.weight = w;
		} else if (!strcmp(opt, "--min")) {
			if (js.min_present_case)
				usage_error("job set: --min given twice");
			js.min_present_case = TITA__CONTROL__JOB_SET_REQUEST__MIN_PRESENT_MIN_BPS;
			js.min_bps = rate_arg("--min", val);
		} else if (!strcmp(opt, "--max")) {
			if (js.max_present_case)
				usage_error("job set: --max given twice");
			js.max_present_case = TITA__CONTROL__JOB_SET_REQUEST__MAX_PRESENT_MAX_BPS;
			js.max_bps = rate_arg("--max", val);
		} else {
			usage_error("job set: unknown option '%s' (--weight, --min, --max)", opt);
		}
	}
	if (js.min_present_case && js.max_present_case && js.max_bps && js.min_bps > js.max_bps)
		usage_error("job set: --min is above --max");
	rq.body_case = TITA__CONTROL__REQUEST__BODY_JOB_SET;
	rq.job_set = &js;
	return call_jobs(&rq);
}

static int job_show(int argc, char **argv)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__JobShowRequest js = TITA__CONTROL__JOB_SHOW_REQUEST__INIT;

	if (argc > 0) {
		job_name_arg("show", argc, argv);
		js.name = argv[0];
		no_more_args(argc - 1, argv + 1, "job show");
	}
	rq.body_case = TITA__CONTROL__REQUEST__BODY_JOB_SHOW;
	rq.job_show = &js;
	return call_jobs(&rq);
}

static int job_clear(int argc, char **argv)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__JobClearRequest jc = TITA__CONTROL__JOB_CLEAR_REQUEST__INIT;

	job_name_arg("clear", argc, argv);
	no_more_args(argc - 1, argv + 1, "job clear");
	jc.name = argv[0];
	rq.body_case = TITA__CONTROL__REQUEST__BODY_JOB_CLEAR;
	rq.job_clear = &jc;
	return call_jobs(&rq);
}

static int job_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("Usage: titactl [-j] job set NAME [--weight W] [--min RATE] [--max RATE]\n"
	       "       titactl [-j] job show [NAME]\n"
	       "       titactl [-j] job clear NAME\n"
	       "W: 0.001..1000 (default 1). RATE: bits per second with an optional unit:\n"
	       "25G, 400Mbit, 3.2T, 1500000; 0 means none (no minimum, no cap).\n"
	       "job show without a NAME lists every job titad knows, those found on QPs\n"
	       "(slurm-ID, pod-UID, unit-NAME) included.\n");
	return 0;
}

/* ---- diagnose: find the slow node ------------------------------------------------- */

#define DIAG_EXIT_SUSPECT 3

static void diagnose_help(FILE *f)
{
	fprintf(f,
		"Usage: titactl [-j] diagnose [--prometheus URL [--job NAME]] [--targets HOST:PORT[,...]]\n"
		"                             [--file PATH]... [--window N] [--timeout SECONDS]\n"
		"Sources (one kind; the default is --prometheus %s):\n"
		"  --prometheus URL   Prometheus's /federate (plain http): tita_health_*,\n"
		"                     tita_fabric_place, tita_port_info and up{job=\"NAME\"}\n"
		"  --job NAME         the job Prometheus scrapes titad as (default tita)\n"
		"  --targets LIST     scrape each titad's /metrics directly (HOST:PORT,...)\n"
		"  --file PATH        a snapshot file, or a directory of NNNNNN.prom snapshots;\n"
		"                     give it again for more, oldest first\n"
		"  --window N         diagnose the last N snapshots (default 5; 0: all)\n"
		"  --timeout SECONDS  for each HTTP request (default 10)\n"
		"Exit status: 0 no suspect, %d a suspect found, 1 no answer (unreachable,\n"
		"malformed), 2 bad arguments.\n",
		DIAG_HTTP_DEFAULT_URL, DIAG_EXIT_SUSPECT);
}

static int cmd_diagnose(int argc, char **argv)
{
	const char *prometheus = NULL, *targets = NULL, *job = "tita";
	const char *files[64];
	int n_files = 0, timeout_ms = DIAG_HTTP_TIMEOUT_MS;
	size_t window = DIAG_WINDOW_DEFAULT;
	struct diag_snaps snaps = { 0 };
	struct tita_diag_params params;
	struct tita_diag_result *res;
	char err[DIAG_ERR_LEN] = "";
	int rc = 0;

	for (int i = 0; i < argc; i++) {
		const char *opt = argv[i], *val;
		char *eq = strchr(argv[i], '=');
		char optbuf[32];

		if (!strcmp(opt, "help") || !strcmp(opt, "--help") || !strcmp(opt, "-h")) {
			diagnose_help(stdout);
			return 0;
		}
		if (strncmp(opt, "--", 2))
			usage_error("diagnose: unexpected argument '%s'", opt);
		if (eq && (size_t)(eq - opt) < sizeof(optbuf)) {
			memcpy(optbuf, opt, (size_t)(eq - opt));
			optbuf[eq - opt] = '\0';
			opt = optbuf;
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				usage_error("diagnose: %s needs a value", opt);
			val = argv[++i];
		}
		if (!strcmp(opt, "--prometheus")) {
			if (prometheus)
				usage_error("diagnose: --prometheus given twice");
			prometheus = val;
		} else if (!strcmp(opt, "--job")) {
			job = val;
		} else if (!strcmp(opt, "--targets")) {
			if (targets)
				usage_error("diagnose: --targets given twice");
			targets = val;
		} else if (!strcmp(opt, "--file")) {
			if (n_files == (int)(sizeof(files) / sizeof(files[0])))
				usage_error("diagnose: more than 64 --file");
			files[n_files++] = val;
		} else if (!strcmp(opt, "--window")) {
			uint64_t w;

			if (tita_parse_u64(val, &w) || w > 100000)
				usage_error("diagnose: --window '%s' is not a count of snapshots",
					    val);
			window = (size_t)w;
		} else if (!strcmp(opt, "--timeout")) {
			double t;

			if (tita_parse_double(val, &t) || !(t >= 0.1 && t <= 600))
				usage_error("diagnose: --timeout '%s' is not 0.1..600 seconds",
					    val);
			timeout_ms = (int)(t * 1000);
		} else {
			usage_error(
				"diagnose: unknown option '%s' (--prometheus, --job, --targets, "
				"--file, --window, --timeout)",
				opt);
		}
	}
	if (!!prometheus + !!targets + !!n_files > 1)
		usage_error("diagnose: give one source: --prometheus, --targets or --file");
	if (!prometheus && !targets && !n_files)
		prometheus = DIAG_HTTP_DEFAULT_URL;
	if (prometheus && (strncmp(prometheus, "http://", 7) && strncmp(prometheus, "https://", 8)))
		usage_error("diagnose: --prometheus '%s' is not an http:// URL", prometheus);
	if (prometheus)
		rc = diag_fetch_prometheus(&snaps, prometheus, job, timeout_ms, DIAG_HTTP_MAX_BYTES,
					   err);
	else if (targets)
		rc = diag_scrape_targets(&snaps, targets, timeout_ms, DIAG_HTTP_MAX_BYTES, stderr,
					 err);
	for (int i = 0; i < n_files && !rc; i++)
		rc = diag_load_path(&snaps, files[i], err);
	if (rc) {
		fprintf(stderr, "titactl: diagnose: %s\n", err);
		diag_snaps_free(&snaps);
		return 1;
	}
	res = malloc(sizeof(*res));
	if (!res) {
		fprintf(stderr, "titactl: out of memory\n");
		diag_snaps_free(&snaps);
		return 1;
	}
	tita_diag_params_default(&params);
	rc = diag_run(&snaps, window, &params, res, err);
	diag_snaps_free(&snaps);
	if (rc) {
		fprintf(stderr, "titactl: diagnose: %s\n", err);
		free(res);
		return 1;
	}
	if (json)
		diag_print_json(stdout, res);
	else
		diag_print_table(stdout, res);
	rc = res->n_suspects ? DIAG_EXIT_SUSPECT : 0;
	free(res);
	return rc;
}

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct cmd job_verbs[] = {
	{ "show", job_show }, { "set", job_set }, { "clear", job_clear },
	{ "help", job_help }, { NULL, NULL },
};

/* where: "job: " for a verb, "" for an object. */
static int dispatch(const struct cmd *table, const char *where, int argc, char **argv)
{
	size_t i = lookup(table, sizeof(table[0]), argv[0], where, where[0] ? "verb" : "object");

	return table[i].fn(argc - 1, argv + 1);
}

static int cmd_job(int argc, char **argv)
{
	if (argc == 0)
		return job_show(0, argv);
	return dispatch(job_verbs, "job: ", argc, argv);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: titactl [OPTIONS] OBJECT [VERB] [ARGS]\n"
		"\n"
		"Objects:\n"
		"  status                         daemon, controller and peer-protocol counters\n"
		"  ports                          local NICs: line rate, eta, capacity, grants\n"
		"  fabric                         each NIC's leaf, its leader and the leaf's links,\n"
		"                                 the LLDP check, paths moved and probes\n"
		"  peers                          peer daemons and their datagram counters\n"
		"  health                         the last health interval: per port sent,\n"
		"                                 received, blocked, app-limited, shortfall,\n"
		"                                 CE, loss, pause frames, silent peers; the\n"
		"                                 worst pairs, silent peers, jobs\n"
		"  pairs [dev IFNAME] [job NAME] [local ADDR] [peer ADDR] [role tx|rx]\n"
		"                                 per pair: demand, grant, ceiling, rate, measured\n"
		"  qps [job NAME] [device DEV]    RDMA QPs of the last discovery scan, with jobs\n"
		"  job set NAME [--weight W] [--min RATE] [--max RATE]\n"
		"  job show [NAME]                one job, or every known job\n"
		"  job clear NAME\n"
		"  monitor [all|peers|pairs|ports]  print changes as they are seen (like ip monitor)\n"
		"  diagnose [--prometheus URL] [--targets HOST:PORT,...] [--file PATH]...\n"
		"                                 find the slow node: every host's health\n"
		"                                 evidence, ranked suspects (titactl diagnose help)\n"
		"\n"
		"Objects, verbs and filter keys may be cut to a unique prefix: titactl pa = pairs.\n"
		"\n"
		"Options:\n"
		"  -j, --json          JSON output (64-bit ids as strings; null where n/a)\n"
		"  -p, --pretty        indent the JSON (with -j)\n"
		"  -s, --socket PATH   titad's control socket (default %s)\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the version\n"
		"\n"
		"Rates are bits per second with an optional unit: 25G, 400Mbit, 3.2T; \"-\" in a\n"
		"table is a value that does not apply. (titad's Prometheus metrics are in bytes\n"
		"per second, as Prometheus names them.)\n",
		TITA_CTL_SOCKET_DEFAULT);
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

static const struct cmd objects[] = {
	{ "status", cmd_status },     { "ports", cmd_ports }, { "fabric", cmd_fabric },
	{ "peers", cmd_peers },	      { "pairs", cmd_pairs }, { "qps", cmd_qps },
	{ "health", cmd_health },     { "job", cmd_job },     { "monitor", cmd_monitor },
	{ "diagnose", cmd_diagnose }, { "help", cmd_help },   { NULL, NULL },
};

/*
 * -p: the JSON the objects print, indented as jq prints it. The objects
 * write compact JSON to a memory stream (glibc's stdout may be assigned);
 * this re-reads it outside strings.
 */
static void print_pretty(const char *p, size_t len, FILE *f)
{
	bool in_str = false, esc = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = p[i];

		if (in_str) {
			fputc(ch, f);
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				in_str = false;
			continue;
		}
		switch (ch) {
		case '"':
			in_str = true;
			fputc(ch, f);
			break;
		case '{':
		case '[':
			if (i + 1 < len && (p[i + 1] == '}' || p[i + 1] == ']')) {
				fputc(ch, f);
				fputc(p[++i], f);
				break;
			}
			depth++;
			fprintf(f, "%c\n%*s", ch, 2 * depth, "");
			break;
		case '}':
		case ']':
			depth--;
			fprintf(f, "\n%*s%c", 2 * (depth > 0 ? depth : 0), "", ch);
			break;
		case ',':
			fprintf(f, ",\n%*s", 2 * depth, "");
			break;
		case ':':
			fputs(": ", f);
			break;
		default:
			fputc(ch, f);
		}
	}
}

static int run_pretty(int argc, char **argv)
{
	FILE *real = stdout, *mem;
	char *buf = NULL;
	size_t len = 0;
	int r;

	mem = open_memstream(&buf, &len);
	if (!mem) {
		fprintf(stderr, "titactl: out of memory\n");
		return 1;
	}
	stdout = mem;
	r = dispatch(objects, "", argc, argv);
	fclose(mem);
	stdout = real;
	print_pretty(buf, len, stdout);
	free(buf);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },	    { "pretty", no_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },	    { NULL, 0, NULL, 0 },
	};
	int c;

	/* Options stop at the object: "job set x --weight 2" keeps its own. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jps:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'p':
			pretty = true;
			break;
		case 's':
			socket_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("titactl %s\n", TITA_VERSION);
			return 0;
		case ':':
			usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		usage_error(
			"missing object (status, ports, fabric, peers, pairs, qps, health, job, "
			"monitor, diagnose)");
	if (pretty && !json)
		usage_error("-p (--pretty) indents JSON: give it with -j");
	if (pretty)
		return run_pretty(argc - optind, argv + optind);
	return dispatch(objects, "", argc - optind, argv + optind);
}
