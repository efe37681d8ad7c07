// SPDX-License-Identifier: MIT
/*
 * The fabric between the hosts, inside the controller (see tita/fabric.h
 * and tita/ctl.h). Three things, each for ports whose place is known:
 *
 *  - Paths. A TX pair to another leaf gets a UDP source port of tita's
 *    choosing, and probes (traceroute-style, answered by the spine) tell
 *    which spine each source port hashes to. A pair ordered elsewhere looks
 *    up (or probes for) a source port that goes there, and is told to take
 *    it once its queue pairs have drained.
 *  - A member's side of its leaf. Each round the port sums its pairs into
 *    lines (per link, job, and far leaf for large pairs) and reports them
 *    to their direction's leader when they change or a refresh is due; the
 *    answer's caps bound its pairs (the sender's rate, the receiver's
 *    grants), its orders move pairs, and its designations ask senders (in
 *    grants) to move.
 *  - The leaders' side. A leaf has two: the member with the lowest address
 *    that answers leads its uplinks (every member's UP lines go into its
 *    tita_leader), the highest its downlinks (the DOWN lines); a leaf of one
 *    host leads both. Members hear back when their caps or orders change,
 *    or at the refresh.
 *
 * A member whose leader (of either role) stops answering for a grant TTL
 * tries the next member for that role; caps expire with the same TTL, so a
 * dead leader leaves its members to the reactive ceiling, never stuck.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_internal.h"

/* Lines a member sends at most; past this, large pairs are summed. */
#define LINES_MAX 512u
/* Source ports tita picks from: the range the kernel and mlx5 use for
 * RoCEv2 (rdma_flow_label_to_udp_sport). */
#define SPORT_MIN 0xc000u
#define SPORT_SPAN 0x4000u
/* A change smaller than this fraction of a link is not worth a message. */
#define LINK_NOISE_FRAC 0.03
/* Source ports a small new pair probes to place itself. */
#define SMALL_PROBES 8u
/* A receiver's line grows by this much of its link beyond what it brings. */
#define RX_GROW_FRAC 0.002
/* A leader that did not answer for this many grant TTLs is tried again. */
#define DEAD_HOLD_TTLS 4
/* line_levels: rounds of its fixed point at most */
#define LEVEL_ROUNDS 8

struct fab_line {
	struct tita_leaf_entry e; /* key; this round's demand and move request */
	bool live; /* some pair is on it this round */
	bool sent; /* reported and not withdrawn */
	uint64_t sent_demand_bps, sent_move_bps, sent_room_mask;
	bool sent_swap;
	uint64_t cap_bps, cap_until_ns; /* from the leader's answer */
	uint64_t room_mask; /* UP: where the leader says the line could go */
	/* share_caps: the level its pairs share it at, max-min (0: in
	 * proportion to use); the sums a round of its fixed point takes. */
	double level_bps, under_bps;
	uint32_t n_pairs, n_under;
	/* build_lines: the pairs summed into it this round */
	uint32_t n_summed;
};

/* The leaf's two leader roles: its uplinks (the lines UP) and its downlinks
 * (the lines DOWN), each led by its own member. */
enum { ROLE_UP, ROLE_DOWN, ROLES };

static unsigned role_of(uint8_t dir)
{
	return dir == TITA_LEAF_UP ? ROLE_UP : ROLE_DOWN;
}

struct fab_port {
	struct tita_place place;
	struct tita_addr *members; /* sorted */
	uint64_t *dead_until_ns;
	uint32_t n_members, self;
	uint32_t leader[ROLES]; /* who leads each role, as far as we know */
	/* Every other member follows two leaders (tita_ctl_peer_leaders()), as
	 * of c->leaders_gen == split_gen. */
	bool split;
	uint64_t split_gen;
	uint64_t report_sent_ns[ROLES]; /* the last report to each */
	uint64_t waiting_since_ns[ROLES]; /* a report unanswered since then (0: none) */
	bool report_due, report_check;
	struct fab_line *lines;
	uint32_t n_lines;
	uint64_t up_room, down_room;
	/* Leader side: the allocation, while someone reports to us. */
	struct tita_leader *leader_obj;
	uint64_t *answered_ns; /* per member */
	bool leader_dirty;
	uint64_t leader_due_ns; /* tita_leader_next_due_ns() */
	/* Work space: our own lines for the leader, a member's answer. */
	struct tita_leaf_entry *scratch;
	/* Evidence that the fabric rehashed (recheck()): until then the
	 * port's placed large pairs refresh their paths every period. The
	 * next report says that we saw it ourselves (rehash_seen()); a
	 * leader's answers, and our grants to other leaves' senders, say that
	 * the leaf did until lead_recheck_until_ns and told_until_ns (a
	 * round: the answers and grants it forces). */
	uint64_t recheck_until_ns;
	bool recheck_tell[ROLES]; /* per role, while told_until_ns */
	uint64_t lead_recheck_until_ns, told_until_ns;
	/* ctl_fabric_lost() last took a loss then, and waits this long
	 * before it takes another (0: 16 periods). */
	uint64_t loss_seen_ns, loss_hold_ns;
	/* learn_spines(): the next probe may go at learn_next_ns, and the
	 * scan for one goes on from the pair slot learn_cursor. */
	uint64_t learn_next_ns;
	uint32_t learn_cursor;
};

/* Remote NICs' leaves (from hellos): open addressing, never shrinks. */
struct fab_place_slot {
	bool used;
	struct tita_addr addr;
	uint32_t leaf;
	/* The leaders per leaf its titad follows (tita_ctl_peer_leaders()):
	 * 0 not known yet, 1 one for both directions, 2 one per direction. */
	uint8_t leaders;
};

struct fab_places {
	struct fab_place_slot *slots;
	uint32_t mask, n;
};

/* ---- places ------------------------------------------------------------- */

static uint32_t addr_hash(const struct tita_addr *a)
{
	uint64_t h = ctl_mix64(ctl_load_u64(a->bytes + 8) ^ ctl_mix64(ctl_load_u64(a->bytes)));

	return (uint32_t)(h ^ h >> 32);
}

static struct fab_place_slot *place_slot(const struct fab_places *t, const struct tita_addr *a)
{
	for (uint32_t i = addr_hash(a) & t->mask;; i = (i + 1) & t->mask)
		if (!t->slots[i].used || tita_addr_eq(&t->slots[i].addr, a))
			return &t->slots[i];
}

static uint32_t remote_leaf_of(const struct tita_ctl *c, const struct tita_addr *a)
{
	const struct fab_place_slot *s;

	if (!c->places)
		return TITA_LEAF_NONE;
	s = place_slot(c->places, a);
	return s->used ? s->leaf : TITA_LEAF_NONE;
}

static int places_grow(struct tita_ctl *c)
{
	struct fab_places *t = c->places;
	uint32_t cap = t && t->slots ? 2 * (t->mask + 1) : 64;
	struct fab_place_slot *old = t ? t->slots : NULL;
	uint32_t old_cap = t && t->slots ? t->mask + 1 : 0;

	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		c->places = t;
	}
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->mask = cap - 1;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i].used)
			*place_slot(t, &old[i].addr) = old[i];
	free(old);
	return 0;
}

/* remote's slot in *ret, made (with no leaf) when it has none: 0, -ENOSPC
 * (as many remotes as the controller has pairs), -ENOMEM. */
static int place_make(struct tita_ctl *c, const struct tita_addr *remote,
		      struct fab_place_slot **ret)
{
	struct fab_place_slot *s;

	if (!c->places || 2 * (c->places->n + 1) > c->places->mask + 1) {
		if (c->places && c->places->n >= c->p.max_pairs)
			return -ENOSPC;
		if (places_grow(c) < 0)
			return -ENOMEM;
	}
	s = place_slot(c->places, remote);
	if (!s->used) {
		*s = (struct fab_place_slot){ .used = true,
					      .addr = *remote,
					      .leaf = TITA_LEAF_NONE };
		c->places->n++;
	}
	*ret = s;
	return 0;
}

int tita_ctl_peer_place(struct tita_ctl *c, const struct tita_addr *remote, uint32_t leaf)
{
	struct fab_place_slot *s;
	int r;

	if (leaf == TITA_LEAF_ANY)
		return -EINVAL;
	if (leaf == TITA_LEAF_NONE) {
		/* Forgetting is marking unknown: open addressing keeps the slot. */
		if (c->places && (s = place_slot(c->places, remote))->used)
			s->leaf = TITA_LEAF_NONE;
		return 0;
	}
	r = place_make(c, remote, &s);
	if (r)
		return r;
	s->leaf = leaf;
	/* Pairs already there learn it at their next use. */
	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		struct pair *pr = &c->pairs[k];

		if (pr->used && pr->role != ROLE_SOURCE && tita_addr_eq(&pr->remote, remote))
			pr->remote_leaf = leaf;
	}
	return 0;
}

int tita_ctl_peer_leaders(struct tita_ctl *c, const struct tita_addr *remote, uint32_t leaders)
{
	struct fab_place_slot *s;
	int r;

	if (leaders > 2)
		leaders = 2;
	if (!leaders) {
		if (c->places && (s = place_slot(c->places, remote))->used && s->leaders) {
			s->leaders = 0;
			c->leaders_gen++;
		}
		return 0;
	}
	r = place_make(c, remote, &s);
	if (r)
		return r;
	if (s->leaders != leaders)
		c->leaders_gen++;
	s->leaders = (uint8_t)leaders;
	return 0;
}

/*
 * Whether the port's leaf has a leader per direction: this titad is set to
 * (leaf_leaders 2) and every other member said in its hello that it follows
 * two. A member not heard from yet counts as one that does not: a titad
 * from before sends every line to the lowest member, and one that split
 * beside it would have two leaders share the downlinks. Every member reads
 * the same list and the same hellos, so the leaf agrees once its hellos
 * are in; until then a member that has not heard them all keeps one leader
 * (the lowest, which leads the uplinks either way).
 */
static bool leaf_split(const struct tita_ctl *c, struct fab_port *f)
{
	if (c->p.leaf_leaders < 2)
		return false;
	if (f->split_gen == c->leaders_gen)
		return f->split;
	f->split_gen = c->leaders_gen;
	f->split = true;
	for (uint32_t i = 0; i < f->n_members && f->split; i++) {
		const struct fab_place_slot *s;

		if (i == f->self)
			continue;
		s = c->places ? place_slot(c->places, &f->members[i]) : NULL;
		f->split = s && s->used && s->leaders >= 2;
	}
	return f->split;
}

void tita_ctl_seed(struct tita_ctl *c, uint64_t seed)
{
	c->rng = seed;
}

/* ---- ports -------------------------------------------------------------- */

static struct fab_port *fab_port_free(struct fab_port *f)
{
	if (!f)
		return NULL;
	free(f->members);
	free(f->dead_until_ns);
	free(f->lines);
	free(f->answered_ns);
	free(f->scratch);
	tita_leader_free(f->leader_obj);
	free(f);
	return NULL;
}

static int cmp_addr(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct tita_addr));
}

/*
 * The same place with other members (one joined, one left): the lines, the
 * leader's state and the caps stay; what is known of each member that stays
 * (dead, answered) moves with it.
 */
static int set_members(struct fab_port *f, const struct tita_addr *local,
		       const struct tita_addr *members, uint32_t n)
{
	struct tita_addr *m = malloc(n * sizeof(*m));
	uint64_t *dead = calloc(n, sizeof(*dead)), *answered = calloc(n, sizeof(*answered));
	struct tita_addr leader[ROLES];

	for (unsigned r = 0; r < ROLES; r++)
		leader[r] = f->members[f->leader[r]];

	if (!m || !dead || !answered) {
		free(m);
		free(dead);
		free(answered);
		return -ENOMEM;
	}
	memcpy(m, members, n * sizeof(*m));
	qsort(m, n, sizeof(*m), cmp_addr);
	for (unsigned r = 0; r < ROLES; r++)
		f->leader[r] = UINT32_MAX;
	for (uint32_t i = 0; i < n; i++) {
		const struct tita_addr *hit =
			bsearch(&m[i], f->members, f->n_members, sizeof(*m), cmp_addr);

		if (hit) {
			dead[i] = f->dead_until_ns[hit - f->members];
			answered[i] = f->answered_ns[hit - f->members];
		}
		if (tita_addr_eq(&m[i], local))
			f->self = i;
		for (unsigned r = 0; r < ROLES; r++)
			if (tita_addr_eq(&m[i], &leader[r]))
				f->leader[r] = i;
	}
	free(f->members);
	free(f->dead_until_ns);
	free(f->answered_ns);
	f->members = m;
	f->dead_until_ns = dead;
	f->answered_ns = answered;
	f->n_members = n;
	/* Who is a member changed: whether all follow two leaders too. */
	f->split_gen = UINT64_MAX;
	/* A leader left: the next report goes to whoever leads now. */
	for (unsigned r = 0; r < ROLES; r++)
		if (f->leader[r] == UINT32_MAX) {
			f->leader[r] = f->self;
			f->report_due = true;
		}
	return 0;
}

int tita_ctl_port_set_place(struct tita_ctl *c, const struct tita_addr *local,
			    const struct tita_place *place, const struct tita_addr *members,
			    uint32_t n_members)
{
	int port = ctl_port_find(c, local);
	struct fab_port *f;
	bool self = false;

	if (port < 0)
		return -ENOENT;
	if (!place || tita_place_check(place) < 0)
		return -EINVAL;
	if (!tita_place_known(place)) {
		c->ports[port].fab = fab_port_free(c->ports[port].fab);
		return 0;
	}
	if (!members || !n_members || n_members > TITA_LEAF_MEMBERS_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < n_members; i++)
		self |= tita_addr_eq(&members[i], local);
	if (!self)
		return -EINVAL;
	f = c->ports[port].fab;
	if (f && !memcmp(&f->place, place, sizeof(*place)))
		return set_members(f, local, members, n_members);
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->place = *place;
	f->n_members = n_members;
	f->members = malloc(n_members * sizeof(*f->members));
	f->dead_until_ns = calloc(n_members, sizeof(*f->dead_until_ns));
	f->answered_ns = calloc(n_members, sizeof(*f->answered_ns));
	f->lines = calloc(LINES_MAX, sizeof(*f->lines));
	f->scratch = calloc(LINES_MAX, sizeof(*f->scratch));
	if (!f->members || !f->dead_until_ns || !f->answered_ns || !f->lines || !f->scratch) {
		fab_port_free(f);
		return -ENOMEM;
	}
	memcpy(f->members, members, n_members * sizeof(*members));
	qsort(f->members, n_members, sizeof(*f->members), cmp_addr);
	for (uint32_t i = 0; i < n_members; i++)
		if (tita_addr_eq(&f->members[i], local))
			f->self = i;
	f->up_room = f->down_room = UINT64_MAX;
	f->split_gen = UINT64_MAX;
	fab_port_free(c->ports[port].fab);
	c->ports[port].fab = f;
	return 0;
}

static bool in_fabric(const struct port *pt, const struct pair *pr)
{
	return pt->fab && pr->remote_leaf != TITA_LEAF_NONE &&
	       pr->remote_leaf != pt->fab->place.leaf;
}

bool ctl_fabric_between_leaves(const struct tita_ctl *c, const struct pair *pr)
{
	return in_fabric(&c->ports[pr->port], pr);
}

/* ---- probes and paths --------------------------------------------------- */

#define PROBES_MAX (1u << 16)
#define PATHS_MAX (1u << 16)

static uint16_t random_sport(struct tita_ctl *c)
{
	return (uint16_t)(SPORT_MIN + tita_rng_next(&c->rng) % SPORT_SPAN);
}

static struct fab_probes *probes_of(struct pair *pr)
{
	if (!pr->probes)
		pr->probes = calloc(1, sizeof(*pr->probes));
	return pr->probes;
}

/*
 * The port's probe budget: a token bucket of probe_burst probes, refilled
 * at probe_rate a second. A spine answers a probe's expired TTL from its
 * CPU, behind a policer (CoPP) that every host probing it shares; a probe
 * it drops counts as lost, and the pair acts on less. Any path that probes
 * takes from here; a probe over the budget is not sent, and is counted
 * (probes_deferred): each caller asks again later (a new pair's own port
 * the next round, a mark the next mark, a refresh its next turn).
 */
/* The per-host probe budget's tokens now (refilled at probe_rate up to
 * probe_burst). */
static double probe_tokens_now(struct tita_ctl *c, uint64_t now_ns)
{
	double burst = (double)c->p.probe_burst;

	if (!c->probe_tokens_set) {
		c->probe_tokens = burst;
		c->probe_tokens_set = true;
	} else if (now_ns > c->probe_tokens_ns) {
		c->probe_tokens += (double)(now_ns - c->probe_tokens_ns) * 1e-9 * c->p.probe_rate;
		if (c->probe_tokens > burst)
			c->probe_tokens = burst;
	}
	if (now_ns > c->probe_tokens_ns)
		c->probe_tokens_ns = now_ns;
	return c->probe_tokens;
}

static bool probe_budget_take(struct tita_ctl *c, uint64_t now_ns)
{
	if (probe_tokens_now(c, now_ns) < 1) {
		c->stats.probes_deferred++;
		return false;
	}
	c->probe_tokens -= 1;
	return true;
}

/* Queues a probe of sport for pr; false when there is no room, or the
 * budget has none left. */
static bool probe_queue(struct tita_ctl *c, const struct pair *pr, uint16_t sport, uint64_t now_ns)
{
	struct tita_probe *ring;

	if (!probe_budget_take(c, now_ns))
		return false;
	/* A full queue drops its oldest probe: it counts as lost. */
	ring = ctl_ring_make_room(c->probes, sizeof(*ring), &c->probes_cap, &c->probes_head,
				  &c->probes_len, PROBES_MAX);
	if (!ring)
		return false;
	c->probes = ring;
	c->probes[(c->probes_head + c->probes_len++) % c->probes_cap] = (struct tita_probe){
		.local = pr->local, .remote = pr->remote, .job_id = pr->job_id, .sport = sport
	};
	c->stats.probes_out++;
	return true;
}

static bool probe_push(struct tita_ctl *c, struct pair *pr, uint16_t sport, uint64_t now_ns)
{
	struct fab_probes *pb = probes_of(pr);

	if (!pb || pb->n_out == FAB_PROBES_MAX || !probe_queue(c, pr, sport, now_ns))
		return false;
	pb->out[pb->n_out++] = sport;
	pb->sent_ns = now_ns;
	return true;
}

bool tita_ctl_pop_probe(struct tita_ctl *c, struct tita_probe *ret_probe)
{
	return ctl_ring_pop(c->probes, sizeof(*ret_probe), c->probes_cap, &c->probes_head,
			    &c->probes_len, ret_probe);
}

static void path_push(struct tita_ctl *c, const struct pair *pr, uint16_t sport)
{
	/* A full queue drops its oldest: a newer update for its pair follows. */
	struct tita_path_update *ring = ctl_ring_make_room(
		c->paths, sizeof(*ring), &c->paths_cap, &c->paths_head, &c->paths_len, PATHS_MAX);

	if (!ring)
		return;
	c->paths = ring;
	c->paths[(c->paths_head + c->paths_len++) % c->paths_cap] = (struct tita_path_update){
		.local = pr->local, .remote = pr->remote, .job_id = pr->job_id, .sport = sport
	};
	c->stats.path_updates++;
}

bool tita_ctl_pop_path(struct tita_ctl *c, struct tita_path_update *ret_update)
{
	return ctl_ring_pop(c->paths, sizeof(*ret_update), c->paths_cap, &c->paths_head,
			    &c->paths_len, ret_update);
}

/* How long a probe may take before it counts as lost. */
static uint64_t probe_timeout_ns(const struct tita_ctl *c)
{
	return c->p.probe_timeout_ns / 2;
}

/*
 * How often a placed large pair probes its own source port again, with no
 * mark to make it, while the port has evidence that the fabric rehashed
 * (recheck()). A link failure makes the leaf and the far leaves rehash,
 * and most pairs of the failed link's leaf change spine, not only those
 * that crossed it: a pair moved onto a link with room is never marked, so
 * it, its leader and its receiver's went on counting it where it no longer
 * was (linkfail64: 10 of 45 pairs between leaves 500 us after the failure,
 * two of them on the dead spine), and the leaders balanced a map that was
 * not the fabric's (5, 4 and 3 pairs on leaf 0's three uplinks). Half a
 * probe timeout: one small probe per large pair per 100 us by default.
 */
static uint64_t path_refresh_ns(const struct tita_ctl *c)
{
	return c->p.probe_timeout_ns / 2;
}

/* Evidence at a port: a rehash seen lasts this long (4 refreshes). */
#define RECHECK_REFRESHES 4
/* With none, the refresh is a safety net this many times slower. */
#define REFRESH_SLOW 16

/*
 * With no evidence, a member's placed large pairs check their paths in its
 * turn: one refresh period in REFRESH_SLOW, or one in n_members when the
 * leaf has more, at the member's place among them. Each pair costs one
 * probe per REFRESH_SLOW refresh periods, and the leaf as a whole still
 * checks some of its pairs every period: a rehash that moved one is seen
 * within a period, and the leader has every member check (lead_recheck()).
 */
static bool refresh_turn(const struct tita_ctl *c, const struct fab_port *f, uint64_t now_ns)
{
	uint64_t turns = tita_max_u64(REFRESH_SLOW, f->n_members);

	if (now_ns < f->recheck_until_ns)
		return true;
	return (now_ns / path_refresh_ns(c)) % turns == f->self % turns;
}

/* A placed large pair checks where its own port goes now and then
 * (refresh_turn()), apart from its other probes: nothing that waits for
 * probes (a move's search, a mark's probe, a held-back pair's next batch)
 * waits for it, and a result that names a new spine acts as any other. */
static void refresh_path(struct tita_ctl *c, struct pair *pr, uint64_t now_ns)
{
	struct fab_probes *pb = pr->probes;

	if (pb && pb->refresh_out && now_ns - pb->refresh_ns >= probe_timeout_ns(c))
		pb->refresh_out = false;
	if (pr->path == PATH_KNOWN && pr->placed && pr->big && pb && !pb->n_out &&
	    !pb->refresh_out && now_ns - pb->sent_ns >= path_refresh_ns(c) &&
	    now_ns - pb->refresh_ns >= path_refresh_ns(c) &&
	    refresh_turn(c, c->ports[pr->port].fab, now_ns) &&
	    probe_queue(c, pr, pr->sport, now_ns)) {
		pb->refresh_out = true;
		pb->refresh_sport = pr->sport;
		pb->refresh_ns = now_ns;
		c->stats.probes_refresh++;
	}
}

/*
 * The leaf was told that the fabric rehashed somewhere: the ports a pair
 * learnt for other spines may lead elsewhere now, even when its own still
 * goes where it did (a far leaf's ECMP towards the failed link's leaf
 * changed, ours did not). Kept, a pair that the failed leaf's downlinks'
 * leader asked onto the spine with room (the dead one: nobody crosses it
 * any more) moved onto its old port there, which now led over a surviving
 * downlink, and the pair, its leaders and its receiver counted it on the
 * dead spine: the survivors were shared as if four carried the leaf
 * (linkfail64 seed 5: port p99 4 MB, 863 ECN marks). Forgotten, a move
 * there needs a new batch of probes, none of which reaches the dead link,
 * and the pair tells its receiver's leader only the spines it knows again.
 * Its own port it keeps: the refresh checks it.
 */
static void forget_ports(struct pair *pr)
{
	struct fab_probes *pb = pr->probes;
	uint8_t w = 0;

	for (uint8_t i = 0; pb && i < pb->n; i++)
		if (pb->sport[i] == pr->sport) {
			pb->sport[w] = pb->sport[i];
			pb->spine[w++] = pb->spine[i];
		}
	if (pb && w < pb->n)
		pb->forgot = true;
	if (pb)
		pb->n = w;
}

/* Evidence that the fabric rehashed: the port's placed large pairs check
 * their paths now, and every round for a while. */
static void recheck(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct fab_port *f = c->ports[port].fab;

	if (!f)
		return;
	f->recheck_until_ns = now_ns + RECHECK_REFRESHES * path_refresh_ns(c);
	for (uint32_t k = 0; k < c->pairs_hwm; k++)
		if (c->slot_role[k] == TITA_PAIR_TX && c->pairs[k].port == port) {
			forget_ports(&c->pairs[k]);
			refresh_path(c, &c->pairs[k], now_ns);
		}
}

static void lead_recheck(struct tita_ctl *c, uint16_t port, uint64_t now_ns);

/* The leaf saw the fabric rehash (we did, or our leader says a member did):
 * our pairs check their paths, and the senders of our receiving pairs from
 * other leaves are told with a grant now (their leaves rehashed too when a
 * link of ours went). A grant that says so makes its sender check, not
 * tell: only what a check finds goes on, so this does not feed itself. */
static void told(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct fab_port *f = c->ports[port].fab;

	recheck(c, port, now_ns);
	f->told_until_ns = now_ns + c->p.control_interval_ns;
	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		struct pair *pr = &c->pairs[k];

		if (c->slot_role[k] != TITA_PAIR_RX || pr->port != port || !pr->demand_bps ||
		    !in_fabric(&c->ports[port], pr))
			continue;
		pr->answer_due = true;
		c->ports[port].answers_due = true;
		c->alloc_due_ns = now_ns;
	}
}

/* Each leader has its own members check (lead_recheck()), and answers
 * only the members with lines of its role: the leaders we are not hear
 * that the leaf rehashed with our next report (due now, to each of them),
 * so that a member whose lines are all of the other role is told too. */
static void tell_leaders(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct fab_port *f = c->ports[port].fab;
	bool any = false;

	for (unsigned r = 0; r < ROLES; r++)
		if (f->leader[r] != f->self)
			any = f->recheck_tell[r] = true;
	if (!any)
		return;
	f->report_due = true;
	c->fabric_due_ns = now_ns;
}

/* The leaf saw the fabric rehash, here: our pairs check theirs, and the
 * leaf's leader hears of it with the next report (due now), and has every
 * member check (lead_recheck()). */
static void seen(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct fab_port *f = c->ports[port].fab;

	told(c, port, now_ns);
	if (f->leader[ROLE_UP] == f->self || f->leader[ROLE_DOWN] == f->self)
		lead_recheck(c, port, now_ns);
	tell_leaders(c, port, now_ns);
}

/* This port's own probes found a source port on a new spine. Losses are
 * believed again at once after it (ctl_fabric_lost()). */
static void rehash_seen(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	c->ports[port].fab->loss_hold_ns = 0;
	seen(c, port, now_ns);
}

/*
 * Packets of a pair between leaves went missing at this receiver: on a
 * lossless fabric, most likely a link went down and the leaves rehashed
 * around it. Taken as a rehash seen here, at most once a slow refresh (16
 * periods), and that wait doubles each time, up to 16 slow refreshes,
 * until a probe finds a rehash: a lossy link (a bad cable, a host's own
 * downlink) would otherwise keep the leaf and its far senders checking a
 * quarter of the time.
 */
void ctl_fabric_lost(struct tita_ctl *c, uint16_t port, const struct tita_addr *remote,
		     uint64_t now_ns)
{
	struct fab_port *f = c->ports[port].fab;
	uint64_t hold;
	uint32_t leaf;

	if (!f || !c->p.steer)
		return;
	hold = f->loss_hold_ns ? f->loss_hold_ns : REFRESH_SLOW * path_refresh_ns(c);
	if (f->loss_seen_ns && now_ns - f->loss_seen_ns < hold)
		return;
	leaf = remote_leaf_of(c, remote);
	if (leaf == TITA_LEAF_NONE || leaf == f->place.leaf)
		return;
	f->loss_seen_ns = now_ns ? now_ns : 1;
	f->loss_hold_ns = tita_min_u64(2 * hold, REFRESH_SLOW * REFRESH_SLOW * path_refresh_ns(c));
	c->stats.losses_seen++;
	seen(c, port, now_ns);
}

static int known_sport(const struct fab_probes *pb, uint16_t sport)
{
	for (uint32_t i = 0; pb && i < pb->n; i++)
		if (pb->sport[i] == sport)
			return (int)i;
	return -1;
}

/* A batch of up to `most` probes on source ports not tried yet (one batch
 * at a time; the pair's own port may be out besides). */
static uint32_t probe_batch(struct tita_ctl *c, struct pair *pr, uint32_t most, uint64_t now_ns)
{
	struct fab_probes *pb = probes_of(pr);
	/* Twice the spines: each one answered with a chance of 1-1/e^2. */
	uint32_t want = tita_min_u64(tita_min_u64(c->p.probe_batch, most),
				     2 * c->ports[pr->port].fab->place.n_spines);
	uint32_t sent = 0;

	if (!pb || (pb->n_out && pb->n_out != 1))
		return 0;
	/* Results from before are replaced, oldest first, as new ones come. */
	for (uint32_t tries = 0; pb->n_out < want && tries < 4 * want; tries++) {
		uint16_t sport = random_sport(c);
		bool dup = known_sport(pb, sport) >= 0;

		for (uint32_t i = 0; i < pb->n_out && !dup; i++)
			dup = pb->out[i] == sport;
		if (dup)
			continue;
		/* Over the budget: the rest of the batch waits too. */
		if (!probe_push(c, pr, sport, now_ns))
			break;
		sent++;
	}
	c->stats.probe_batches++;
	return sent;
}

/* A pair's own port and a batch of others, probed: it is placed when they
 * are back. */
static void start_probing(struct tita_ctl *c, struct pair *pr, uint32_t batch, uint64_t now_ns)
{
	pr->path = PATH_PROBING;
	probe_push(c, pr, pr->sport, now_ns);
	pr->path_until_ns = now_ns + probe_timeout_ns(c);
	probe_batch(c, pr, batch, now_ns);
}

/* ---- the spine of a spread pair, for the health evidence ----------------- */

/*
 * A pair between leaves that nobody places (an all-to-all's many small
 * ones: PATH_SPREAD) goes out on a random source port whose spine nobody
 * knows, and the leaders count it evenly over the spines. The health
 * evidence wants to know it all the same: a slow leaf-spine link under an
 * all-to-all slows every host alike, and only the shortfall per spine
 * tells which link (docs/design.md, "Diagnosis"). So each such pair
 * probes its own source port once, again when the port changes or the
 * leaf rehashes; what it learns stays in path_spine, apart from the
 * placement's probes (pr->probes) and from pr->spine, which the leaders
 * count. Paced per port: each probe is an ICMP a spine must answer.
 */

/* A port sends one such probe per this long at most: an eighth of a probe
 * timeout (lib's 25 us; titad's 50 ms timeout: 160 a second a NIC). A pair
 * that finds no room waits its turn (deferred, never dropped). */
static uint64_t learn_gap_ns(const struct tita_ctl *c)
{
	return c->p.probe_timeout_ns / 8;
}

uint16_t ctl_fabric_path_spine(const struct pair *pr)
{
	if (pr->role == TITA_PAIR_RX)
		return pr->spine != TITA_SPINE_NONE ? pr->spine : pr->path_spine;
	if (pr->role != TITA_PAIR_TX)
		return TITA_SPINE_NONE;
	if (pr->path == PATH_KNOWN || pr->path == PATH_MOVING)
		return pr->spine;
	if (pr->path == PATH_SPREAD && pr->sport && pr->path_sport == pr->sport)
		return pr->path_spine;
	return TITA_SPINE_NONE;
}

/* Whether a TX pair's spine is one to learn now: spread between leaves,
 * not known for its port, no probe of it out (one lost counts so after a
 * probe timeout, and is tried again after four). */
static bool learn_wanted(struct tita_ctl *c, const struct port *pt, struct pair *pr,
			 uint64_t now_ns)
{
	if (pr->learn_out && now_ns - pr->learn_ns >= probe_timeout_ns(c)) {
		pr->learn_out = false;
		c->stats.probes_lost++;
	}
	return pr->path == PATH_SPREAD && pr->sport && pr->path_sport != pr->sport &&
	       !pr->learn_out &&
	       (!pr->learn_ns || now_ns - pr->learn_ns >= 4 * probe_timeout_ns(c)) &&
	       in_fabric(pt, pr);
}

/* The one place such a probe goes out: a probe of the pair's own port, if
 * the port's pace allows one now. */
static bool learn_probe(struct tita_ctl *c, struct fab_port *f, struct pair *pr, uint64_t now_ns)
{
	/* Learning is for diagnosis: it takes only what the budget has
	 * beyond half its burst, so that placement and the path refresh
	 * never wait for it (titad's budget, 64 a second, is below the
	 * learning's own pace). */
	if (now_ns < f->learn_next_ns ||
	    probe_tokens_now(c, now_ns) < (double)c->p.probe_burst / 2 + 1 ||
	    !probe_queue(c, pr, pr->sport, now_ns))
		return false;
	f->learn_next_ns += learn_gap_ns(c);
	pr->learn_out = true;
	pr->learn_sport = pr->sport;
	pr->learn_ns = now_ns ? now_ns : 1;
	return true;
}

/* A round's probes to learn spines, as many as the port's pace allows
 * (learn_gap_ns(); what an idle port saved is at most a round's worth):
 * the pairs are taken in turn, from where the last probe left off. */
static void learn_spines(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct port *pt = &c->ports[port];
	struct fab_port *f = pt->fab;
	uint32_t n = c->pairs_hwm, i = 0;

	if (!f || !c->p.steer || !n || now_ns < f->learn_next_ns)
		return;
	if (now_ns > c->p.control_interval_ns &&
	    f->learn_next_ns < now_ns - c->p.control_interval_ns)
		f->learn_next_ns = now_ns - c->p.control_interval_ns;
	for (; i < n && now_ns >= f->learn_next_ns; i++) {
		uint32_t k = (f->learn_cursor + i) % n;
		struct pair *pr = &c->pairs[k];

		if (c->slot_role[k] != TITA_PAIR_TX || pr->port != port ||
		    !learn_wanted(c, pt, pr, now_ns))
			continue;
		if (!learn_probe(c, f, pr, now_ns))
			break;
	}
	f->learn_cursor = (f->learn_cursor + i) % n;
}

/* The answer to such a probe (false: the probe was not one). The pair's
 * receiver hears the spine with its next demand, at once while it has
 * bytes waiting. */
static bool learn_result(struct tita_ctl *c, struct pair *pr, uint16_t sport, uint16_t spine,
			 uint64_t now_ns)
{
	if (!pr->learn_out || sport != pr->learn_sport)
		return false;
	pr->learn_out = false;
	if (spine == TITA_SPINE_NONE) {
		c->stats.probes_unanswered++;
		return true;
	}
	pr->path_spine = spine;
	pr->path_sport = sport;
	if (pr->path == PATH_SPREAD && pr->sport == sport && pr->sample_backlog_bytes)
		ctl_send_demand_now(c, pr, now_ns);
	return true;
}

/* Whether the leaf's members can send more than its uplinks carry. */
static bool oversubscribed(const struct tita_ctl *c, uint16_t port)
{
	const struct port *pt = &c->ports[port];
	const struct fab_port *f = pt->fab;

	return (double)f->n_members * (double)pt->line_rate_bps >
	       1.01 * (double)f->place.n_spines * (double)f->place.spine_bps;
}

/*
 * A new pair that need not wait for its leader: its first message is short
 * (ctl_short_start(): at most that much queue wherever it lands) and no
 * other pair of its NIC in its role is waiting to be placed (a collective's
 * pairs, which start together, keep to the start rate: together they could
 * fill every link). It keeps its start-of-life cap's lifetime, at line
 * rate, and is placed as any other.
 */
static bool free_start(const struct tita_ctl *c, const struct pair *pr, uint64_t msg_bytes,
		       uint64_t now_ns)
{
	const struct port *pt = &c->ports[pr->port];

	if (!ctl_short_start(c, pt, msg_bytes))
		return false;
	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		const struct pair *o = &c->pairs[k];

		if (o != pr &&
		    (c->slot_role[k] == TITA_PAIR_TX || c->slot_role[k] == TITA_PAIR_RX) &&
		    o->port == pr->port && !o->leaf_capped && now_ns < o->leaf_cap_until_ns &&
		    in_fabric(pt, o))
			return false;
	}
	return true;
}

/* The cap a new pair between leaves has until its leader places it. */
static void start_cap(struct tita_ctl *c, struct pair *pr, uint64_t msg_bytes, uint64_t now_ns)
{
	const struct port *pt = &c->ports[pr->port];

	pr->fab_free = free_start(c, pr, msg_bytes, now_ns);
	pr->leaf_cap_bps = pr->fab_free ?
				   pt->line_rate_bps :
				   (uint64_t)(c->p.start_rate_frac * (double)pt->line_rate_bps);
	pr->leaf_cap_until_ns = now_ns + c->p.grant_ttl_ns;
}

void ctl_fabric_tx_new(struct tita_ctl *c, struct pair *pr, uint64_t msg_bytes, uint64_t now_ns)
{
	const struct port *pt = &c->ports[pr->port];

	pr->remote_leaf = remote_leaf_of(c, &pr->remote);
	pr->spine = TITA_SPINE_NONE;
	pr->want_spine = TITA_SPINE_NONE;
	pr->path = PATH_OFF;
	if (!in_fabric(pt, pr) || !c->p.steer)
		return;
	/* The pair's queue pairs take a source port of ours from their first
	 * packet (nothing in flight yet: no drain); what it probes is decided
	 * once its first demand is known (ctl_fabric_tx_started). */
	pr->sport = random_sport(c);
	pr->path = PATH_SPREAD;
	path_push(c, pr, pr->sport);
	/* Until the leader has placed it, it keeps to the start rate: at its
	 * grant it might land on a link that others already fill (unless it
	 * is short and alone: free_start()). */
	start_cap(c, pr, msg_bytes, now_ns);
}

/* When a report or a leader's run waits for: a short batch, so that the
 * lines of pairs that start together go in one message, one allocation. */
static uint64_t fabric_batch_ns(const struct tita_ctl *c)
{
	return (uint64_t)((double)c->p.control_interval_ns * c->p.leaf_batch_frac);
}

/* The rate from which a pair is large: big_frac of a spine link. */
static uint64_t big_bar_bps(const struct tita_ctl *c, const struct fab_port *f)
{
	return (uint64_t)(c->p.big_frac * (double)f->place.spine_bps);
}

/* Whether a new pair will send at a large part of an uplink (big_frac of
 * it) while its backlog lasts: its NIC's line shared by backlog with the
 * port's other pairs. An all-to-all's pairs start with a small share
 * each; a lone transfer has the whole line. */
static bool fast_start(const struct tita_ctl *c, const struct pair *pr)
{
	const struct port *pt = &c->ports[pr->port];
	uint64_t port_backlog = 0;

	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		const struct pair *q = &c->pairs[k];

		if (c->slot_role[k] == TITA_PAIR_TX && q->port == pr->port)
			port_backlog += q->backlog_bytes;
	}
	return (double)pt->line_rate_bps * (double)pr->backlog_bytes >=
	       c->p.big_frac * (double)pt->fab->place.spine_bps * (double)port_backlog;
}

void ctl_fabric_tx_started(struct tita_ctl *c, struct pair *pr, uint64_t now_ns)
{
	const struct fab_port *f = c->ports[pr->port].fab;
	bool big, whole;

	/*
	 * A pair that starts large (its backlog alone would fill a good part
	 * of an uplink for ten rounds) is one the leaders place and may move:
	 * it probes its own port and a batch of others, learns where all the
	 * spines are, and starts on the one its NIC uses least towards the
	 * same leaf (place()). A smaller one that must ask for a grant and
	 * whose share of its NIC's line is a large part of an uplink
	 * (fast_start()) probes a few and is placed so too: it may go at line
	 * rate for up to ten rounds, and counted as spread over the spines
	 * while it all went on one, such pairs met on
	 * an uplink or a spine's downlink that the leaves thought a quarter
	 * used (WebSearch at 50 %: queues of 0.2-1.4 MB there, the p99
	 * slowdown under 10 KB 2.54; 1.70 placed). So does any small one in
	 * an oversubscribed leaf, where the uplinks are the bottleneck and
	 * every NIC must spread its own pairs evenly over them. Elsewhere a
	 * pair whose message goes whole (unscheduled-short), or one of an
	 * all-to-all's many, probes nothing: its bytes are gone before a leaf
	 * could count them, or its share is small, a move would hold it until
	 * it drained, and many such pairs are spread by the hash (each one
	 * probed and moved, a 256-host all-to-all took 1.14x its bound, not
	 * 1.03x).
	 */
	if (pr->path != PATH_SPREAD || !f)
		return;
	big = pr->backlog_bytes >=
	      tita_rate_to_bytes(big_bar_bps(c, f), 10 * c->p.control_interval_ns);
	whole = pr->backlog_bytes <=
		tita_rate_to_bytes(c->ports[pr->port].line_rate_bps, c->p.unsched_short_ns);
	if (big)
		start_probing(c, pr, UINT32_MAX, now_ns);
	else if (oversubscribed(c, pr->port) || (!whole && fast_start(c, pr)))
		start_probing(c, pr, SMALL_PROBES, now_ns);
}

/*
 * A spread pair that was idle and has a new message: judged again as a new
 * pair is (ctl_fabric_tx_started). A pair whose first message went whole
 * stayed spread for good, and a later message of megabytes on it went at
 * its grant all on the one spine it hashes to while its line counted a
 * quarter of it there (WebSearch at 80 %: a 3.6 MB message at 54.5 Gbit/s
 * counted 13.6 on each uplink, one of them paced at 230 Gbit/s of 200).
 * One that is to be placed now keeps to the start rate until its leader
 * places it, as a new pair does (its cap counted it spread).
 */
void ctl_fabric_tx_restarted(struct tita_ctl *c, struct pair *pr, uint64_t now_ns)
{
	const struct port *pt = &c->ports[pr->port];

	if (pr->path != PATH_SPREAD || !pt->fab)
		return;
	ctl_fabric_tx_started(c, pr, now_ns);
	if (pr->path == PATH_SPREAD)
		return;
	pr->leaf_capped = false;
	pr->fab_free = false;
	pr->leaf_cap_bps = (uint64_t)(c->p.start_rate_frac * (double)pt->line_rate_bps);
	pr->leaf_cap_until_ns = now_ns + c->p.grant_ttl_ns;
	c->port_dirty[pr->port] = true;
}

/* Something a report must carry (a new spine, a move request): send one
 * after the batch. */
static void report_due(struct tita_ctl *c, struct port *pt, uint64_t now_ns)
{
	if (!pt->fab)
		return;
	pt->fab->report_due = true;
	c->fabric_due_ns = tita_min_u64(c->fabric_due_ns, now_ns + fabric_batch_ns(c));
}

/* A large pair left a link (it moved, or its sender says it did): report
 * now, without the batch. Whoever stays on that link keeps the share the
 * collision left it until our leader has heard and answered, and every µs
 * of that is a µs of the link unused. A small pair's move waits for the
 * batch: an all-to-all's many pairs each name their first spine. */
static void report_now(struct tita_ctl *c, struct port *pt, uint64_t now_ns)
{
	if (!pt->fab)
		return;
	pt->fab->report_due = true;
	c->fabric_due_ns = tita_min_u64(c->fabric_due_ns, now_ns);
}

/* Something that may have moved the lines: look at them after the batch,
 * and report if they moved enough. */
static void report_soon(struct tita_ctl *c, struct port *pt, uint64_t now_ns)
{
	if (!pt->fab)
		return;
	pt->fab->report_check = true;
	c->fabric_due_ns = tita_min_u64(c->fabric_due_ns, now_ns + fabric_batch_ns(c));
}

/* Ask the caller to move the pair to moving_sport. A move that is neither
 * applied nor failed within a grant TTL counts as failed (a queue pair
 * that never drained, an agent gone). */
static void start_move(struct tita_ctl *c, struct pair *pr, uint64_t now_ns)
{
	pr->path = PATH_MOVING;
	pr->path_until_ns = now_ns + c->p.grant_ttl_ns;
	pr->moving_granted = false;
	path_push(c, pr, pr->moving_sport);
	/* Its receiver hears of the move now (its demand names the spine it
	 * goes to), not once what was posted has drained: the grant that
	 * knows the new spine (the share kept there, or the start rate where
	 * none was) is back about when the pair gets there, and where nobody
	 * kept room (a swap's second line) the far leader counts it there a
	 * drain sooner, so the chain's next step starts sooner. */
	ctl_send_demand_now(c, pr, now_ns);
}

/* A move that did not happen: the pair stays where it was. */
static void move_failed(struct tita_ctl *c, struct pair *pr, uint64_t now_ns)
{
	pr->path = PATH_KNOWN;
	/* Its receiver was told it was on its way. */
	ctl_send_demand_now(c, pr, now_ns);
	c->stats.moves_failed++;
	c->port_dirty[pr->port] = true;
}

/* Batches of probes an order to a spine may send before it is given up. */
#define WANT_PROBE_BATCHES 3

/* Try to carry out the leader's order: a source port known to reach the
 * spine, or a batch of probes to find one. */
static void try_move(struct tita_ctl *c, struct pair *pr, uint64_t now_ns)
{
	const struct fab_probes *pb = pr->probes;

	if (pr->path != PATH_KNOWN || pr->want_spine == TITA_SPINE_NONE)
		return;
	if (pr->want_spine == pr->spine || now_ns >= pr->want_until_ns) {
		pr->want_spine = TITA_SPINE_NONE;
		c->port_dirty[pr->port] = true;
		return;
	}
	for (uint32_t i = 0; pb && i < pb->n; i++) {
		if (pb->spine[i] != pr->want_spine)
			continue;
		pr->moving_sport = pb->sport[i];
		pr->moving_spine = pr->want_spine;
		pr->want_spine = TITA_SPINE_NONE;
		start_move(c, pr, now_ns);
		c->stats.moves++;
		return;
	}
	/* Up to WANT_PROBE_BATCHES batches of probes per order: a spine that
	 * none of them reaches is given up (the leader orders again if it
	 * still wants it). A batch of twice the spines' random source ports
	 * misses a given spine one time in eight (16 spines); with one batch,
	 * one half of a swap stayed where it was while the other moved onto
	 * its uplink, and the two shared it until the leader's order lapsed
	 * (100-140 us, the slowest flows of a 256-host permutation). */
	if (pb && pb->n_out)
		return;
	if (pr->want_probed >= WANT_PROBE_BATCHES) {
		pr->want_spine = TITA_SPINE_NONE;
		c->stats.moves_failed++;
		c->port_dirty[pr->port] = true;
		return;
	}
	/* A batch the probe budget held back entirely is no try. */
	if (probe_batch(c, pr, UINT32_MAX, now_ns))
		pr->want_probed++;
}

/* A new spine for the same source port means the leaf's ECMP group
 * changed (a link went down or came back): every spine this port learned
 * is stale. Each pair keeps what it just heard and probes its own source
 * port again. */
static void rehash(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	c->stats.rehashes++;
	rehash_seen(c, port, now_ns);
	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		struct pair *pr = &c->pairs[k];

		if (c->slot_role[k] != TITA_PAIR_TX || pr->port != port)
			continue;
		/* A spread pair learns its spine again (learn_spines()). */
		pr->path_sport = 0;
		if (!pr->probes)
			continue;
		pr->probes->n = 0;
		if (pr->path == PATH_KNOWN && !pr->probes->n_out)
			probe_push(c, pr, pr->sport, now_ns);
	}
}

/*
 * A new pair's first placement, once its first batch of probes is back: the
 * spine its port sends least over towards the same leaf (then least over
 * at all) among those its probes reached. Every host spreading its own
 * pairs so keeps a leaf's uplinks, and the far leaves' downlinks, as
 * balanced as the pairs allow, with no leader involved: an all-to-all's
 * many small pairs need nothing more. Large pairs are the leader's to
 * place after that.
 */
static void place(struct tita_ctl *c, struct pair *pr, uint64_t now_ns)
{
	const struct fab_port *f = c->ports[pr->port].fab;
	const struct fab_probes *pb = pr->probes;
	uint32_t same[TITA_SPINES_MAX] = { 0 }, all[TITA_SPINES_MAX] = { 0 };
	uint32_t best = UINT32_MAX, seen = 0;
	int pick = -1;

	pr->placed = true;
	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		const struct pair *q = &c->pairs[k];
		uint16_t s;

		if (!q->used || q == pr || q->role != TITA_PAIR_TX || q->port != pr->port ||
		    !q->placed)
			continue;
		s = q->path == PATH_MOVING ? q->moving_spine : q->spine;
		if (s >= f->place.n_spines)
			continue;
		all[s]++;
		same[s] += q->remote_leaf == pr->remote_leaf;
	}
	for (uint32_t i = 0; pb && i < pb->n; i++) {
		uint32_t s = pb->spine[i], score = same[s] << 16 | tita_min_u64(all[s], 0xffff);

		if (score < best) {
			best = score;
			pick = (int)i;
			seen = 1;
		} else if (score == best && tita_rng_next(&c->rng) % ++seen == 0) {
			pick = (int)i;
		}
	}
	/* Where it is already wins a tie: a move there gains nothing and
	 * costs a hold at the start rate until the far leaf has counted it
	 * on its new spine (a lone large pair, a permutation's, has every
	 * spine tied). Not in an oversubscribed leaf, where every small pair
	 * is placed: there the hold paces the many that start together
	 * (alltoall64 took 1.13 x its bound without it, 1.11 with). */
	if (!oversubscribed(c, pr->port) && pr->spine < f->place.n_spines &&
	    (same[pr->spine] << 16 | tita_min_u64(all[pr->spine], 0xffff)) <= best)
		pick = -1;
	if (pick < 0 || pb->spine[pick] == pr->spine) {
		/* It stays: its leader and its receiver's count it here now. */
		report_due(c, &c->ports[pr->port], now_ns);
		ctl_send_demand_now(c, pr, now_ns);
		return;
	}
	pr->moving_sport = pb->sport[pick];
	pr->moving_spine = pb->spine[pick];
	start_move(c, pr, now_ns);
}

int tita_ctl_probe_result(struct tita_ctl *c, const struct tita_probe *probe, uint16_t spine,
			  uint64_t now_ns)
{
	struct pair *pr =
		ctl_pair_find(c, TITA_PAIR_TX, &probe->local, &probe->remote, probe->job_id);
	struct port *pt;
	struct fab_probes *pb;
	bool rehashed = false;
	uint32_t i;
	int at;

	c->stats.probe_results++;
	if (!pr)
		return -ENOENT;
	pt = &c->ports[pr->port];
	if (pr->learn_out && probe->sport == pr->learn_sport) {
		if (!pt->fab || (spine != TITA_SPINE_NONE && spine >= pt->fab->place.n_spines))
			return -EINVAL;
		learn_result(c, pr, probe->sport, spine, now_ns);
		return 0;
	}
	if (!pr->probes)
		return -ENOENT;
	pb = pr->probes;
	if (!pt->fab || (spine != TITA_SPINE_NONE && spine >= pt->fab->place.n_spines))
		return -EINVAL;
	for (i = 0; i < pb->n_out && pb->out[i] != probe->sport; i++)
		;
	if (i < pb->n_out)
		pb->out[i] = pb->out[--pb->n_out];
	else if (pb->refresh_out && pb->refresh_sport == probe->sport)
		pb->refresh_out = false;
	else
		return -ENOENT;
	if (spine == TITA_SPINE_NONE) {
		/* Nothing answered: lost, or the remote is under our leaf after
		 * all. The pair's own port is tried again at the timeout. */
		c->stats.probes_unanswered++;
		return 0;
	}
	at = known_sport(pb, probe->sport);
	if (at >= 0 && pb->spine[at] != spine) {
		rehash(c, pr->port, now_ns);
		rehashed = true;
		at = -1;
	}
	if (at < 0) {
		if (pb->n == FAB_PROBES_MAX) {
			memmove(pb->sport, pb->sport + 1,
				(FAB_PROBES_MAX - 1) * sizeof(pb->sport[0]));
			memmove(pb->spine, pb->spine + 1,
				(FAB_PROBES_MAX - 1) * sizeof(pb->spine[0]));
			pb->n--;
		}
		pb->sport[pb->n] = probe->sport;
		pb->spine[pb->n++] = (uint8_t)spine;
	}
	if (probe->sport == pr->sport && (pr->path == PATH_PROBING || pr->path == PATH_KNOWN) &&
	    pr->spine != spine) {
		/* A pair held until a grant counts it on its new spine is
		 * counted on this one now: held for the old one, it would wait
		 * for a grant that never comes. */
		if (pr->hold_spine != TITA_SPINE_NONE)
			pr->hold_spine = spine;
		/* A placed pair whose own port went elsewhere: the fabric
		 * rehashed (its other pairs may have moved too). */
		if (pr->path == PATH_KNOWN && pr->spine < pt->fab->place.n_spines && !rehashed)
			rehash_seen(c, pr->port, now_ns);
		pr->spine = spine;
		pr->path = PATH_KNOWN;
		if (pr->placed) {
			report_due(c, pt, now_ns);
			/* The receiver's leaf counts it on its downlinks. */
			ctl_send_demand_now(c, pr, now_ns);
		}
	}
	if (!pr->placed && !pb->n_out && pr->path == PATH_KNOWN)
		place(c, pr, now_ns);
	try_move(c, pr, now_ns);
	return 0;
}

int tita_ctl_path_applied(struct tita_ctl *c, const struct tita_path_update *u, uint64_t now_ns)
{
	struct pair *pr = ctl_pair_find(c, TITA_PAIR_TX, &u->local, &u->remote, u->job_id);

	if (!pr)
		return -ENOENT;
	if (pr->path == PATH_MOVING && u->sport == pr->moving_sport) {
		pr->sport = pr->moving_sport;
		pr->spine = pr->moving_spine;
		pr->path = PATH_KNOWN;
		pr->move_asked = false;
		pr->seek = false;
		pr->moved_ns = now_ns ? now_ns : 1;
		/* Until its receiver has counted it there, it comes in at
		 * the start rate, wherever it moved: where no room was kept
		 * (a swap, the first placement) whoever is on that downlink
		 * already has the far leaf's caps; where room was kept, the
		 * receiver's grant that knows the move carries the share kept
		 * (ctl_fabric_on_demand), a round trip away, while a proposal
		 * that lapsed on the way (its room given to another) would
		 * meet a resident at the old rate. */
		/* Unless that grant came while it drained: the receiver
		 * heard of the move when it started (start_move), and may
		 * send no other grant for a while. */
		pr->hold_spine = pr->moving_granted ? TITA_SPINE_NONE : pr->spine;
		pr->moving_granted = false;
		pr->hold_cap_bps =
			(uint64_t)(c->p.start_rate_frac * (double)c->ports[pr->port].line_rate_bps);
		c->port_dirty[pr->port] = true;
		if (pr->big)
			report_now(c, &c->ports[pr->port], now_ns);
		else
			report_due(c, &c->ports[pr->port], now_ns);
		ctl_send_demand_now(c, pr, now_ns);
		return 0;
	}
	return u->sport == pr->sport ? 0 : -ENOENT;
}

int tita_ctl_path_failed(struct tita_ctl *c, const struct tita_path_update *u, uint64_t now_ns)
{
	struct pair *pr = ctl_pair_find(c, TITA_PAIR_TX, &u->local, &u->remote, u->job_id);

	if (!pr || pr->path != PATH_MOVING || u->sport != pr->moving_sport)
		return -ENOENT;
	move_failed(c, pr, now_ns);
	report_due(c, &c->ports[pr->port], now_ns);
	return 0;
}

/* ---- a member's side ---------------------------------------------------- */

static bool line_key_eq(const struct tita_leaf_entry *a, const struct tita_leaf_entry *b)
{
	return a->dir == b->dir && a->spine == b->spine && a->remote_leaf == b->remote_leaf &&
	       a->job_id == b->job_id;
}

static struct fab_line *line_get(struct fab_port *f, const struct tita_leaf_entry *key)
{
	for (uint32_t i = 0; i < f->n_lines; i++)
		if (line_key_eq(&f->lines[i].e, key))
			return &f->lines[i];
	if (f->n_lines == LINES_MAX)
		return NULL;
	f->lines[f->n_lines] = (struct fab_line){ .e = *key };
	f->lines[f->n_lines].e.demand_bps = 0;
	f->lines[f->n_lines].e.move_bps = 0;
	f->lines[f->n_lines].e.room_mask = 0;
	return &f->lines[f->n_lines++];
}

/* The pair's share of the link: what it could use, and the leaf line it
 * is summed into. */
/*
 * What a pair could use of a leaf link. A sender says what it wants, not
 * what its grant lets it send: the grant carries the far leaf's downlink
 * cap, and a line that asked no more than another leader's cap would climb
 * back only as fast as demand estimates grow (half again a round). A
 * receiver's line is bounded by its own downlink's share, which no leader
 * caps.
 */
static uint64_t pair_use_bps(const struct tita_ctl *c, const struct pair *pr)
{
	const struct port *pt = &c->ports[pr->port];

	/* No more than its own NIC can send, though; nor than its grant
	 * lets it (what its receiver gives is what it can use). */
	if (pr->role == TITA_PAIR_TX) {
		uint64_t nic = (uint64_t)(pt->eta * (double)pt->line_rate_bps);
		uint64_t use = tita_min_u64(pr->demand_bps, nic);

		/* A pair that sent nothing and has nothing waiting uses
		 * nothing now, whatever its demand (held over a pause between
		 * steps) says: its line's cap goes to the pairs that send.
		 * Except a large one, large by what it sent on average: it
		 * carries a collective's steps one after the other, and each
		 * step's end (its source says done) makes it idle until the
		 * next; counted at nothing there, its line would be given to
		 * others between steps and its place lost (a ring across
		 * leaves: 1.9x the bound, as ECMP alone, against 1.4). So is
		 * a small one on a known spine that sent half the large bar on
		 * average: counted at nothing, its line reported no demand,
		 * the leader gave its spine to a large pair, and at its next
		 * step both sent at the whole cap each member held until the
		 * next round (a ring across leaves: 100s of KB on that
		 * uplink). Not every small one: the room so held cost the ring
		 * on 4 x 400G 0.8 % against 0.4 % with the half bar. */
		if (pr->idle_rounds) {
			bool keeps_place = pr->big ||
					   (pr->path == PATH_KNOWN &&
					    pr->sent_avg_bps >= big_bar_bps(c, pt->fab) / 2);

			return keeps_place ? tita_min_u64(pr->sent_avg_bps, nic) : 0;
		}
		/* For a large pair the receiver's share, not the grant, when
		 * the receiver's leaf holds the grant below it: what a
		 * collision leaves a pair is not what it would use once moved.
		 * A small one is not moved: it uses what it is granted. */
		if (pr->state == TITA_PAIR_GRANTED)
			use = tita_min_u64(use, pr->far_share_bps && pr->big ? pr->far_share_bps :
									       pr->grant_bps);
		return use;
	}
	{
		uint64_t use = pr->rx_alloc_bps ? tita_min_u64(pr->demand_bps, pr->rx_alloc_bps) :
						  pr->demand_bps;

		/* A small pair: what it brings, and half more to grow into,
		 * when the datapath counts it. One that its sender's leaf
		 * holds back would otherwise keep a share of our downlink
		 * nobody uses, and the two leaves' caps would each bind a
		 * different half of an all-to-all's pairs. Half, not a
		 * quarter: a job's last pairs into a receiver, held to a
		 * trickle while the other job filled the spines, grew back a
		 * quarter a round (twoa2a64 seed 1: receiver 14's last seven
		 * pairs carried 3-20 Gbit/s together for 1.4 ms, and the job
		 * ratio was 3.36; 2.80 with half). (A large pair is placed by
		 * what it would use once moved.) */
		if (!pr->big && pr->src_slot && pr->measured_bps)
			use = tita_min_u64(
				use, pr->measured_bps + pr->measured_bps / 2 +
					     (uint64_t)(RX_GROW_FRAC *
							(double)c->ports[pr->port].line_rate_bps));
		return use;
	}
}

/*
 * Large is what the pair would get at its own NIC, not what it asks: an
 * all-to-all's pairs each ask for a lot and get a sliver. Nor what the
 * fabric gives it now: a pair held back by a collision is the one to move.
 * It stays large until its share halves, so that it does not flip between
 * its own line and the leaf's sum each round.
 */
static bool pair_big(const struct tita_ctl *c, const struct fab_port *f, const struct pair *pr)
{
	(void)c;
	(void)f;
	return pr->big;
}

/*
 * Whether a pair is large now: its share is an eighth of an uplink
 * (half that to stay large, so that it does not flip between a line of its
 * own and the leaf's sum each round); and a sender's has ten rounds of that
 * share waiting (a short transfer is done before a move would pay off: a
 * move waits for what is in flight). A sender's pair that has sent that
 * much on average over the last rounds is large too, whatever it has
 * queued now: a collective's steps (a ring's chunks) are each shorter than
 * a round, but the pair carries them one after the other. So is a
 * receiver's pair whose sender sent that much on average: a long pause
 * between two steps would otherwise put it under the leaf's sum, held to
 * what it brought in the last round.
 */
static bool judge_big(const struct tita_ctl *c, const struct fab_port *f, const struct pair *pr)
{
	uint64_t bar = big_bar_bps(c, f);

	if (pr->sent_avg_bps >= (pr->big ? bar / 2 : bar))
		return true;
	if (pr->nic_share_bps < (pr->big ? bar / 2 : bar))
		return false;
	return pr->big || pr->role == TITA_PAIR_RX ||
	       tita_max_u64(pr->backlog_bytes, pr->round_backlog_bytes) >=
		       tita_rate_to_bytes(pr->nic_share_bps, 10 * c->p.control_interval_ns);
}

/* Each pair's share of its NIC in its direction (TX: the sender's own
 * water-filling of its pairs' demands; RX: the downlink's), and whether it
 * is large. */
static void nic_shares(struct tita_ctl *c, uint16_t port)
{
	struct port *pt = &c->ports[port];
	uint64_t cap = (uint64_t)(pt->eta * (double)pt->line_rate_bps);
	uint32_t n = 0;

	for (uint32_t s = 0; s < c->pairs_hwm; s++) {
		struct pair *pr = &c->pairs[s];
		const struct tita_job *job;

		if (!pr->used || pr->port != port || !in_fabric(pt, pr))
			continue;
		if (pr->role == TITA_PAIR_RX) {
			pr->nic_share_bps = pr->rx_alloc_bps ? pair_use_bps(c, pr) : 0;
			pr->big = judge_big(c, pt->fab, pr);
			continue;
		}
		if (pr->role != TITA_PAIR_TX)
			continue;
		job = ctl_job_policy(c, pr->job_id);
		c->order[n] = s;
		c->entries[n++] = (struct tita_alloc_entry){
			.demand_bps = tita_min_u64(pr->idle_rounds ? 0 : pr->demand_bps, cap),
			.weight = (double)job->weight_milli / TITA_WEIGHT_ONE,
			.group = ctl_job_group(pr, s),
		};
	}
	if (!n)
		return;
	tita_alloc_maxmin_by_group(c->entries, n, cap, c->scratch);
	for (uint32_t k = 0; k < n; k++) {
		struct pair *pr = &c->pairs[c->order[k]];

		pr->nic_share_bps = c->entries[k].alloc_bps;
		pr->big = judge_big(c, pt->fab, pr);
	}
}

static uint64_t spines_mask(const struct fab_port *f)
{
	return f->place.n_spines >= 64 ? UINT64_MAX : (1ull << f->place.n_spines) - 1;
}

/* The spines a pair's probes found a source port for. */
static uint64_t known_spines(const struct pair *pr)
{
	uint64_t mask = 0;

	for (uint32_t i = 0; pr->probes && i < pr->probes->n; i++)
		mask |= 1ull << pr->probes->spine[i];
	return mask;
}

static struct tita_leaf_entry line_key(const struct tita_ctl *c, const struct port *pt,
				       const struct pair *pr, uint16_t spine)
{
	return (struct tita_leaf_entry){
		.member = pt->local,
		.dir = pr->role == TITA_PAIR_TX ? TITA_LEAF_UP : TITA_LEAF_DOWN,
		.spine = spine,
		.remote_leaf = pair_big(c, pt->fab, pr) ? pr->remote_leaf : TITA_LEAF_ANY,
		.job_id = pr->job_id,
		.weight_milli = pr->role == TITA_PAIR_TX ?
					ctl_job_policy(c, pr->job_id)->weight_milli :
					pr->weight_milli,
		.move_to = TITA_SPINE_NONE,
	};
}

/* Where a large TX pair could go: a spine it knows a source port for, where
 * its line would be better off (as our leader last said). */
static uint64_t pair_room_mask(const struct tita_ctl *c, const struct pair *pr)
{
	const struct port *pt = &c->ports[pr->port];

	if (!in_fabric(pt, pr) || !c->p.steer || !pair_big(c, pt->fab, pr))
		return 0;
	/* On its way: where it goes, so that the receiving leaf keeps that
	 * free for it. */
	if (pr->path == PATH_MOVING && pr->moving_spine < TITA_SPINES_MAX)
		return 1ull << pr->moving_spine;
	if (pr->path != PATH_KNOWN || pr->spine >= TITA_SPINES_MAX)
		return 0;
	if (pr->want_spine < TITA_SPINES_MAX)
		return 1ull << pr->want_spine;
	{
		struct tita_leaf_entry key = line_key(c, pt, pr, pr->spine);

		for (uint32_t i = 0; i < pt->fab->n_lines; i++)
			if (line_key_eq(&pt->fab->lines[i].e, &key))
				return known_spines(pr) & pt->fab->lines[i].room_mask &
				       ~(1ull << pr->spine);
	}
	return 0;
}

/* The spine a pair's traffic is counted on now (the old one while it
 * drains towards a new one); NONE when it is not known. */
static uint16_t counted_spine(const struct tita_ctl *c, const struct pair *pr)
{
	if (!c->p.steer)
		return TITA_SPINE_NONE;
	if (pr->role == TITA_PAIR_TX &&
	    ((pr->path != PATH_KNOWN && pr->path != PATH_MOVING) || !pr->placed))
		return TITA_SPINE_NONE;
	return pr->spine;
}

/* Counted as spread evenly over the spines: everything when tita does not
 * steer; a sender's pair whose spine nobody probed; a receiver's pair whose
 * sender has not said where it comes in, once it has a share of our
 * downlink. That holds for a pair large at our downlink too: its sender
 * judges by its own backlog, and one with little queued is never placed,
 * so that waiting for its spine would hold it at the start rate for good.
 * And a sender's spread pair that grew and now probes (maintain_paths()):
 * it keeps sending at its cap until it is placed, and is counted where it
 * was, not nowhere. */
static bool spread(const struct tita_ctl *c, const struct pair *pr)
{
	return !c->p.steer || (pr->role == TITA_PAIR_TX && pr->path == PATH_SPREAD) ||
	       (pr->role == TITA_PAIR_TX && pr->path == PATH_PROBING && !pr->placed &&
		pr->leaf_capped) ||
	       (pr->role == TITA_PAIR_RX && pr->spine == TITA_SPINE_NONE && pr->rx_alloc_bps);
}

static bool pair_on_line(const struct tita_ctl *c, const struct port *pt, const struct pair *pr)
{
	return pr->used && (pr->role == TITA_PAIR_TX || pr->role == TITA_PAIR_RX) &&
	       in_fabric(pt, pr) && (pr->role == TITA_PAIR_RX || pr->state != TITA_PAIR_FAIL_OPEN);
}

/*
 * Sum this round's pairs into lines. A pair whose spine is known is on the
 * link of its spine; one counted as spread (spread()) puts an even part of
 * its traffic on every spine.
 */
static void build_lines(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct port *pt = &c->ports[port];
	struct fab_port *f = pt->fab;

	for (uint32_t i = 0; i < f->n_lines; i++) {
		f->lines[i].live = false;
		f->lines[i].e.demand_bps = f->lines[i].e.move_bps = f->lines[i].e.room_mask = 0;
		f->lines[i].e.swap = false;
		f->lines[i].n_summed = 0;
	}
	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		struct pair *pr = &c->pairs[k];
		uint16_t spine;
		uint64_t use;

		if (!pair_on_line(c, pt, pr) || pr->port != port)
			continue;
		use = pair_use_bps(c, pr);
		spine = counted_spine(c, pr);
		if (spread(c, pr)) {
			for (uint16_t s = 0; s < f->place.n_spines; s++) {
				struct tita_leaf_entry key = line_key(c, pt, pr, s);
				struct fab_line *ln;

				key.remote_leaf = TITA_LEAF_ANY;
				ln = line_get(f, &key);
				if (!ln)
					continue;
				ln->live = true;
				ln->e.demand_bps += use / f->place.n_spines;
			}
			continue;
		}
		if (spine == TITA_SPINE_NONE || spine >= f->place.n_spines) {
			continue;
		} else {
			struct tita_leaf_entry key = line_key(c, pt, pr, spine);
			struct fab_line *ln = line_get(f, &key);

			if (!ln) {
				key.remote_leaf = TITA_LEAF_ANY;
				ln = line_get(f, &key);
			}
			if (!ln)
				continue;
			ln->live = true;
			ln->e.demand_bps += use;
			if (!ln->n_summed++)
				ln->e.weight_milli = key.weight_milli;
			if (pr->role == TITA_PAIR_TX && pr->move_asked &&
			    now_ns < pr->move_until_ns && pr->path == PATH_KNOWN) {
				/* The receiving leaf's proposal, for our leader
				 * to take or refuse. */
				ln->e.move_bps += use;
				ln->e.room_mask |= pr->move_mask;
				ln->e.swap = ln->e.swap || pr->move_swap;
			} else if (pr->role == TITA_PAIR_RX) {
				/* Where its sender could go: our leader
				 * proposes there first. */
				ln->e.room_mask |= pr->src_room_mask;
				if (pr->came_ns &&
				    now_ns - pr->came_ns < c->p.control_interval_ns &&
				    pr->came_from < TITA_SPINES_MAX)
					ln->e.move_to = pr->came_from;
				if (pr->src_seek)
					ln->e.move_bps += use;
			}
		}
	}
	for (uint32_t i = 0; i < f->n_lines; i++) {
		struct fab_line *ln = &f->lines[i];

		ln->e.demand_bps = ctl_clamp_rate(ln->e.demand_bps, TITA_RATE_MAX_BPS);
		/* A line of small pairs tells how many it holds: the leader
		 * weighs it by them within its job (a job keeps its weight),
		 * since ECMP puts 8 of a receiver's pairs on one spine and 23
		 * on another, whose pairs ran at half the rate when the
		 * leader shared a link max-min over lines. */
		ln->e.n_pairs = ln->e.remote_leaf == TITA_LEAF_ANY && ln->n_summed > 1 ?
					(uint32_t)tita_min_u64(ln->n_summed, TITA_LEAF_PAIRS_MAX) :
					0;
	}
}

/*
 * A pair's cap changed: a sender's rate is composed again at once; a
 * receiver grants again before the next round when the cap moved enough to
 * matter (it bounds the pair's grant).
 */
static void set_cap(struct tita_ctl *c, struct pair *pr, uint64_t cap_bps, uint64_t until_ns,
		    uint64_t now_ns)
{
	bool was_live = now_ns < pr->leaf_cap_until_ns;

	if (pr->role == TITA_PAIR_RX &&
	    (!was_live || ctl_changed(cap_bps, pr->leaf_cap_bps, c->p.demand_change_frac))) {
		c->port_needs_alloc[pr->port] = true;
		c->alloc_due_ns = tita_min_u64(c->alloc_due_ns, now_ns);
	}
	if (pr->role == TITA_PAIR_TX && (!was_live || cap_bps != pr->leaf_cap_bps))
		c->port_dirty[pr->port] = true;
	pr->leaf_cap_bps = cap_bps;
	pr->leaf_cap_until_ns = until_ns;
	pr->leaf_capped = true;
}

/*
 * Pairs the leader has not placed yet (no cap of its own came) keep to the
 * start rate, and together to what would be this member's fair share of
 * the leaf's links in their direction: a whole job's worth of pairs that
 * start at once (an all-to-all) would otherwise fill every uplink at the
 * start rate alone, and the queue it leaves drains only as fast as the
 * leader's caps leave room (1 - fabric_eta).
 */
static void provisional_caps(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct port *pt = &c->ports[port];
	struct fab_port *f = pt->fab;
	uint64_t start = (uint64_t)(c->p.start_rate_frac * (double)pt->line_rate_bps);
	double share =
		c->p.fabric_eta * (double)f->place.spine_bps * f->place.n_spines / f->n_members;
	uint32_t n[3] = { 0 };

	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		const struct pair *pr = &c->pairs[k];

		if (pr->port == port && pair_on_line(c, pt, pr) && !pr->leaf_capped &&
		    !pr->fab_free)
			n[pr->role]++;
	}
	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		struct pair *pr = &c->pairs[k];
		uint64_t cap;

		if (pr->port != port || !pair_on_line(c, pt, pr) || pr->leaf_capped ||
		    pr->fab_free || now_ns >= pr->leaf_cap_until_ns)
			continue;
		cap = tita_min_u64(start, (uint64_t)(share / n[pr->role]));
		if (cap != pr->leaf_cap_bps) {
			pr->leaf_cap_bps = cap;
			if (pr->role == TITA_PAIR_TX)
				c->port_dirty[port] = true;
		}
	}
}

/* The fabric line a pair is summed on (not a spread one), or NULL. */
static struct fab_line *pair_line(const struct tita_ctl *c, const struct port *pt,
				  const struct pair *pr)
{
	struct fab_port *f = pt->fab;
	uint16_t spine = counted_spine(c, pr);
	struct tita_leaf_entry key;

	if (spread(c, pr) || spine == TITA_SPINE_NONE || spine >= f->place.n_spines)
		return NULL;
	key = line_key(c, pt, pr, spine);
	for (uint32_t i = 0; i < f->n_lines; i++)
		if (line_key_eq(&f->lines[i].e, &key))
			return &f->lines[i];
	return NULL;
}

/*
 * The level at which a sender's line of small pairs shares a cap smaller
 * than they would use: max-min, each pair its use up to the level. In
 * proportion to use, the shares followed the grants (a small pair uses what
 * it is granted), and an all-to-all's grants, far over what the leaves
 * leave each pair and never cut by as much as a percent of a line, differ
 * by a few percent with the receivers' early allocations: every sender
 * gave the pairs into one leaf 4 % more, and that leaf's downlink from one
 * spine was paced at 205 Gbit/s of 200 (a 128-host all-to-all on 2:1, its
 * queue 3 MB with a pacer's bucket). A large pair's line keeps the
 * proportion (a collision's pairs are moved, not levelled).
 */
static void line_levels(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct port *pt = &c->ports[port];
	struct fab_port *f = pt->fab;
	bool any = false;

	for (uint32_t i = 0; i < f->n_lines; i++) {
		struct fab_line *ln = &f->lines[i];

		ln->level_bps = 0;
		if (ln->e.dir == TITA_LEAF_UP && ln->e.remote_leaf == TITA_LEAF_ANY &&
		    ln->cap_until_ns > now_ns && ln->e.demand_bps > ln->cap_bps) {
			ln->level_bps = -1;
			any = true;
		}
	}
	/* The fixed point: the level is what the pairs over it share of what
	 * those under it leave; it only rises, and settles once no pair
	 * crosses it (a few rounds). */
	for (uint32_t it = 0; any && it < LEVEL_ROUNDS; it++) {
		bool moved = false;

		for (uint32_t i = 0; i < f->n_lines; i++) {
			f->lines[i].under_bps = 0;
			f->lines[i].n_pairs = f->lines[i].n_under = 0;
		}
		for (uint32_t k = 0; k < c->pairs_hwm; k++) {
			const struct pair *pr = &c->pairs[k];
			struct fab_line *ln;
			double use;

			if (pr->role != TITA_PAIR_TX || pr->port != port ||
			    !pair_on_line(c, pt, pr))
				continue;
			ln = pair_line(c, pt, pr);
			if (!ln || !ln->level_bps)
				continue;
			use = (double)pair_use_bps(c, pr);
			ln->n_pairs++;
			if (ln->level_bps > 0 && use < ln->level_bps) {
				ln->under_bps += use;
				ln->n_under++;
			}
		}
		for (uint32_t i = 0; i < f->n_lines; i++) {
			struct fab_line *ln = &f->lines[i];
			double level;

			if (!ln->level_bps || !ln->n_pairs || ln->n_under >= ln->n_pairs)
				continue;
			level = ((double)ln->cap_bps - ln->under_bps) / (ln->n_pairs - ln->n_under);
			moved = moved || level != ln->level_bps;
			ln->level_bps = level;
		}
		if (!moved)
			break;
	}
}

/* Each pair's share of its line's cap: in proportion to what it uses, or
 * up to the line's level (line_levels). */
static void share_caps(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct port *pt = &c->ports[port];
	struct fab_port *f = pt->fab;

	uint64_t start_bps = (uint64_t)(c->p.start_rate_frac * (double)pt->line_rate_bps);

	provisional_caps(c, port, now_ns);
	line_levels(c, port, now_ns);
	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		struct pair *pr = &c->pairs[k];
		struct tita_leaf_entry key;
		const struct fab_line *ln = NULL;
		uint16_t spine;
		double share = 0;

		if (!pair_on_line(c, pt, pr) || pr->port != port)
			continue;
		spine = counted_spine(c, pr);
		if (spread(c, pr)) {
			/* Spread over every spine: the sum of its shares. */
			uint64_t until = UINT64_MAX;

			for (uint16_t s = 0; s < f->place.n_spines; s++) {
				key = line_key(c, pt, pr, s);
				key.remote_leaf = TITA_LEAF_ANY;
				for (uint32_t i = 0; i < f->n_lines; i++)
					if (line_key_eq(&f->lines[i].e, &key))
						ln = &f->lines[i];
				if (!ln || ln->cap_until_ns <= now_ns || !ln->e.demand_bps) {
					until = 0;
					break;
				}
				share += (double)ln->cap_bps * (double)pair_use_bps(c, pr) /
					 (double)ln->e.demand_bps / f->place.n_spines;
				until = tita_min_u64(until, ln->cap_until_ns);
				ln = NULL;
			}
			set_cap(c, pr, (uint64_t)share, until, now_ns);
			continue;
		}
		if (spine == TITA_SPINE_NONE || spine >= f->place.n_spines)
			continue;
		key = line_key(c, pt, pr, spine);
		for (uint32_t i = 0; i < f->n_lines && !ln; i++)
			if (line_key_eq(&f->lines[i].e, &key))
				ln = &f->lines[i];
		if (!ln || ln->cap_until_ns <= now_ns) {
			/* Its line has no cap yet (new, or the pair changed
			 * lines: a large pair became small): it is unplaced
			 * until the leader answers, not held to what it was
			 * given on another line, where it may have used
			 * nothing at the time (a step's pause) and got 0. */
			if (pr->leaf_capped && pr->leaf_cap_bps < start_bps)
				pr->leaf_capped = false;
			continue;
		}
		/* A pair that uses nothing now (between two steps of a
		 * collective) keeps the cap it has: its share would be 0, held
		 * for a grant TTL, and the receiver would send its sender a
		 * grant of 0 that the next step then waits out. */
		if (!pair_use_bps(c, pr) && pr->leaf_capped && now_ns < pr->leaf_cap_until_ns &&
		    ln->e.demand_bps)
			continue;
		if (ln->level_bps > 0)
			share = fmin((double)pair_use_bps(c, pr), ln->level_bps);
		else
			share = ln->e.demand_bps ?
					(double)ln->cap_bps * (double)pair_use_bps(c, pr) /
						(double)ln->e.demand_bps :
					(double)ln->cap_bps;
		set_cap(c, pr, (uint64_t)share, ln->cap_until_ns, now_ns);
	}
}

static void leader_take_lines(struct tita_ctl *c, struct port *pt, const struct tita_addr *member,
			      const struct tita_leaf_entry *lines, uint32_t n, uint64_t now_ns);

/*
 * The member the port reports a role's lines to: for the uplinks the lowest
 * address that is not known dead, for the downlinks the highest. Every
 * member reads the same sorted list, so the leaf agrees without a word; two
 * roles on two hosts halve the busiest host's leader traffic (reports in,
 * answers out), and the roles need nothing of each other: an uplink's caps,
 * seeks and the proposals its leader takes are over UP lines only, a
 * downlink's caps and proposals over DOWN lines only.
 */
static uint32_t elect(const struct tita_ctl *c, struct fab_port *f, unsigned role, uint64_t now_ns)
{
	bool highest = role == ROLE_DOWN && leaf_split(c, f);

	for (uint32_t k = 0; k < f->n_members; k++) {
		uint32_t i = highest ? f->n_members - 1 - k : k;

		if (i == f->self || f->dead_until_ns[i] <= now_ns)
			return i;
	}
	return f->self;
}

/*
 * A line is worth a report when its demand moved by a fraction that matters
 * to it and by an amount that matters to its link: the many small lines of
 * an all-to-all wobble by a few percent every round, and reporting each
 * wobble would cost more than it tells.
 */
static bool line_changed(const struct tita_ctl *c, const struct fab_port *f,
			 const struct fab_line *ln)
{
	double moved;

	if (!ln->sent)
		return ln->live;
	if (!ln->live || (ln->e.move_bps != 0) != (ln->sent_move_bps != 0))
		return true;
	/* A line said with nothing on it is gone at the leader
	 * (tita_leader_report): whatever it carries now is news there, however
	 * little, or its pairs wait for the refresh without a cap of their own. */
	if (!ln->sent_demand_bps && !ln->sent_move_bps && ln->e.demand_bps)
		return true;
	/* Where a large line's far leaf has room is what its leader swaps on. */
	if (ln->e.remote_leaf != TITA_LEAF_ANY &&
	    (ln->e.room_mask != ln->sent_room_mask || ln->e.swap != ln->sent_swap))
		return true;
	moved = (double)ln->e.demand_bps - (double)ln->sent_demand_bps;
	return ctl_changed(ln->e.demand_bps, ln->sent_demand_bps, c->p.demand_change_frac) &&
	       (moved > LINK_NOISE_FRAC * (double)f->place.spine_bps ||
		-moved > LINK_NOISE_FRAC * (double)f->place.spine_bps);
}

/* Report the lines to the leaders when they changed, or at the refresh: each
 * role's lines to its own leader, in one datagram. */
static void report(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct port *pt = &c->ports[port];
	struct fab_port *f = pt->fab;
	struct tita_leaf_entry *self_lines = f->scratch;
	bool due[ROLES], changed[ROLES] = { false }, any = false;
	uint32_t n_self = 0, n_out[ROLES] = { 0 }, w = 0;
	bool self_due = false, tell[ROLES];

	for (unsigned r = 0; r < ROLES; r++) {
		due[r] = now_ns - f->report_sent_ns[r] >= c->p.refresh_ns;
		/* A leader that stopped answering: try the next member. */
		if (f->leader[r] != f->self && f->waiting_since_ns[r] &&
		    now_ns - f->waiting_since_ns[r] >= c->p.grant_ttl_ns) {
			f->dead_until_ns[f->leader[r]] =
				now_ns + DEAD_HOLD_TTLS * c->p.grant_ttl_ns;
			f->waiting_since_ns[r] = 0;
			c->stats.leaders_lost++;
			due[r] = true;
		}
	}
	for (unsigned r = 0; r < ROLES; r++) {
		uint32_t now_leader = elect(c, f, r, now_ns);

		if (now_leader == f->leader[r])
			continue;
		f->leader[r] = now_leader;
		/* A new leader hears everything. */
		for (uint32_t i = 0; i < f->n_lines; i++)
			if (role_of(f->lines[i].e.dir) == r)
				f->lines[i].sent = false;
		due[r] = true;
	}
	for (uint32_t i = 0; i < f->n_lines; i++) {
		unsigned r = role_of(f->lines[i].e.dir);

		if (!changed[r] && line_changed(c, f, &f->lines[i]))
			changed[r] = any = true;
	}
	/* Something a report must carry that no line shows: both hear it. A
	 * rehash seen goes to each leader we are not, whatever changed (one
	 * role's line moving carried it to that role's leader alone), while
	 * it is fresh: told_until_ns, not whenever a line of the role next
	 * goes out. */
	for (unsigned r = 0; r < ROLES; r++) {
		tell[r] = f->recheck_tell[r] && f->leader[r] != f->self &&
			  now_ns < f->told_until_ns;
		f->recheck_tell[r] = tell[r];
		due[r] = due[r] || changed[r] || (f->report_due && !any) || tell[r];
	}
	if (!due[ROLE_UP] && !due[ROLE_DOWN])
		return;
	f->report_due = false;
	for (unsigned r = 0; r < ROLES; r++) {
		uint32_t n_told_r = 0;

		if (!due[r])
			continue;
		f->report_sent_ns[r] = now_ns;
		self_due |= f->leader[r] == f->self;
		for (uint32_t i = 0; i < f->n_lines; i++) {
			struct fab_line *ln = &f->lines[i];

			if ((!ln->live && !ln->sent) || role_of(ln->e.dir) != r)
				continue;
			if (f->leader[r] == f->self) {
				self_lines[n_self++] = ln->e;
			} else {
				struct out_entry *e = ctl_outbox_push(c);

				if (!e)
					break;
				e->kind = TITA_MSG_LEAF_REPORT;
				e->peer = f->members[f->leader[r]];
				e->leaf = (struct out_leaf){ .line = ln->e,
							     .leaf_id = f->place.leaf,
							     .recheck = tell[r] };
				/* A line withdrawn, or said with nothing on it
				 * (which the leader forgets), is answered by
				 * nobody. */
				n_out[r] += ln->live && (ln->e.demand_bps || ln->e.move_bps);
				n_told_r++;
			}
			ln->sent = ln->live;
			ln->sent_demand_bps = ln->e.demand_bps;
			ln->sent_move_bps = ln->e.move_bps;
			ln->sent_room_mask = ln->e.room_mask;
			ln->sent_swap = ln->e.swap;
		}
		/* Only a report that went out with a live line waits for an
		 * answer: a member with nothing to say, or whose last line
		 * on the role's links ended (its leader has nothing to answer
		 * it, not even what an earlier report asked), would otherwise
		 * count its leader lost. */
		if (!n_out[r])
			f->waiting_since_ns[r] = 0;
		else if (!f->waiting_since_ns[r])
			f->waiting_since_ns[r] = now_ns;
		c->stats.leaf_reports++;
		/* Told once a line of the role went out to its leader. */
		if (n_told_r)
			f->recheck_tell[r] = false;
	}
	/* Withdrawn lines are gone once said. */
	for (uint32_t i = 0; i < f->n_lines; i++)
		if (f->lines[i].live || f->lines[i].sent)
			f->lines[w++] = f->lines[i];
	f->n_lines = w;
	/* A role with no lines anywhere yet needs no table. */
	if (self_due && (n_self || f->leader_obj))
		leader_take_lines(c, pt, &pt->local, self_lines, n_self, now_ns);
}

/* A pair's part of the room its leader kept for the line where it moves:
 * by what it uses, of the traffic the order moves. */
static uint64_t move_cap_share(const struct tita_ctl *c, const struct pair *pr,
			       const struct tita_leaf_entry *l)
{
	uint64_t moved = tita_min_u64(l->move_bps, l->demand_bps);
	uint64_t use = pair_use_bps(c, pr);

	if (!moved || use >= moved)
		return l->move_cap_bps;
	return (uint64_t)((double)l->move_cap_bps * (double)use / (double)moved);
}

/*
 * What an answered line tells its pairs. UP: an order to move (all of a
 * line that names its far leaf, enough of an aggregate to make up the
 * bps), or to seek a new place from the receiving leaf; DOWN: a proposal
 * for the senders. A line answered without either ends a seek.
 */
static void line_orders(struct tita_ctl *c, uint16_t port, const struct tita_leaf_entry *l,
			uint64_t now_ns)
{
	struct port *pt = &c->ports[port];
	uint64_t left = l->move_bps;
	bool seek = l->dir == TITA_LEAF_UP && l->move_bps && l->move_to == TITA_SPINE_NONE;

	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		struct pair *pr = &c->pairs[k];
		struct tita_leaf_entry key;
		uint16_t spine;

		if (!pair_on_line(c, pt, pr) || pr->port != port)
			continue;
		spine = counted_spine(c, pr);
		if (spine != l->spine)
			continue;
		key = line_key(c, pt, pr, spine);
		if (!line_key_eq(&key, l))
			continue;
		/* The room kept lapses with the proposal. */
		if (l->dir == TITA_LEAF_DOWN && !l->move_bps)
			pr->move_cap_bps = 0;
		if (l->dir == TITA_LEAF_UP && (seek || !l->move_bps)) {
			bool was = pr->seek && now_ns < pr->seek_until_ns;

			pr->seek = seek && left;
			if (pr->seek)
				pr->seek_until_ns = now_ns + c->p.control_interval_ns;
			/* Its receiver's leaf hears it with the demand. */
			if (pr->seek != was)
				ctl_send_demand_now(c, pr, now_ns);
		} else if (!left) {
			continue;
		} else if (l->dir == TITA_LEAF_UP) {
			if (pr->path != PATH_KNOWN || pr->want_spine != TITA_SPINE_NONE)
				continue;
			pr->want_spine = l->move_to;
			pr->want_probed = 0;
			pr->want_until_ns = now_ns + 4 * c->p.control_interval_ns;
			/* It stops while it moves (ctl_fabric_cap): the leader
			 * gave its share here to those that stay. */
			c->port_dirty[port] = true;
			try_move(c, pr, now_ns);
		} else {
			/* Propose it to its sender, in the grant, now. */
			pr->move_asked = true;
			pr->move_mask = l->swap && l->room_mask ? l->room_mask : 1ull << l->move_to;
			pr->move_swap = l->swap;
			pr->move_until_ns = now_ns + c->p.control_interval_ns;
			pr->move_cap_bps = move_cap_share(c, pr, l);
			pr->grant_sent_ns = 0;
			c->port_needs_alloc[port] = true;
			c->alloc_due_ns = tita_min_u64(c->alloc_due_ns, now_ns);
		}
		left -= tita_min_u64(left, tita_max_u64(pair_use_bps(c, pr), 1));
	}
}

/* The leader's answer to one of our ports: caps, room, orders. */
static void take_answer(struct tita_ctl *c, uint16_t port, const struct tita_leaf_entry *lines,
			uint32_t n, uint64_t up_room, uint64_t down_room, uint64_t ttl_ns,
			uint64_t now_ns)
{
	struct fab_port *f = c->ports[port].fab;

	bool has[ROLES] = { false };

	for (uint32_t i = 0; i < n; i++)
		has[role_of(lines[i].dir)] = true;
	/* Each leader knows its own links' room. */
	if (has[ROLE_UP])
		f->up_room = up_room;
	if (has[ROLE_DOWN])
		f->down_room = down_room;
	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		struct pair *pr = &c->pairs[k];

		if (c->slot_role[k] == TITA_PAIR_TX && pr->port == port &&
		    pr->room_sent_mask != pair_room_mask(c, pr) && pair_room_mask(c, pr))
			ctl_send_demand_now(c, pr, now_ns);
	}
	for (unsigned r = 0; r < ROLES; r++)
		if (has[r])
			f->waiting_since_ns[r] = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct tita_leaf_entry *l = &lines[i];

		for (uint32_t k = 0; k < f->n_lines; k++) {
			struct fab_line *ln = &f->lines[k];

			if (!line_key_eq(&ln->e, l))
				continue;
			ln->cap_bps = l->cap_bps;
			ln->cap_until_ns = now_ns + tita_min_u64(ttl_ns, c->p.grant_ttl_ns);
			ln->room_mask = l->dir == TITA_LEAF_UP ? l->room_mask : 0;
			break;
		}
		if (c->p.steer && l->remote_leaf != TITA_LEAF_ANY)
			line_orders(c, port, l, now_ns);
	}
	/*
	 * A pair's share is its use over its line's, both as they are now:
	 * the line's sum from the last round, against the use of a pair that
	 * has since gone idle (between two steps of a collective, at its
	 * average), gave it a fraction of the cap, and the step it started a
	 * moment later went at that until the next round (a ring step at 54
	 * of 98 Gbit/s on a link it had alone: ringx64 seed 1).
	 */
	build_lines(c, port, now_ns);
	share_caps(c, port, now_ns);
	c->port_dirty[port] = true;
}

int ctl_on_leaf_answer(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns)
{
	int port;
	struct fab_port *f;

	if (!m->n_entries)
		return 0;
	port = ctl_port_find(c, &m->leaf[0].member);
	if (port < 0 || !(f = c->ports[port].fab) || f->place.leaf != m->leaf_id) {
		c->stats.leaf_msgs_refused++;
		return 0;
	}
	/* Every line from the member that leads its role (not us). */
	for (uint32_t i = 0; i < m->n_entries; i++) {
		uint32_t ld = f->leader[role_of(m->leaf[i].dir)];

		if (!tita_addr_eq(&m->leaf[i].member, &m->leaf[0].member) ||
		    !tita_addr_eq(&m->peer, &f->members[ld]) || ld == f->self) {
			c->stats.leaf_msgs_refused++;
			return 0;
		}
	}
	take_answer(c, (uint16_t)port, m->leaf, m->n_entries, m->up_room_mask, m->down_room_mask,
		    m->ttl_ns, now_ns);
	if (m->recheck)
		told(c, (uint16_t)port, now_ns);
	/* The new caps bound the rates now, not at the next round. */
	for (uint32_t p = 0; p < c->n_ports; p++)
		c->port_dirty[p] = c->port_dirty[p] || p == (uint32_t)port;
	ctl_compose_dirty(c, now_ns);
	return (int)m->n_entries;
}

/* ---- the leader's side -------------------------------------------------- */

static int member_index(const struct fab_port *f, const struct tita_addr *a)
{
	uint32_t lo = 0, hi = f->n_members;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int r = cmp_addr(&f->members[mid], a);

		if (!r)
			return (int)mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int leader_ensure(struct tita_ctl *c, struct fab_port *f)
{
	struct tita_leader_params lp;

	if (f->leader_obj)
		return 0;
	tita_leader_params_default(&lp);
	lp.eta = c->p.fabric_eta;
	lp.entry_ttl_ns = c->p.grant_ttl_ns;
	/* A proposal lives until the line shows up where it was asked to (its
	 * old line is withdrawn), or for a round if it was refused. */
	lp.move_hold_ns = c->p.control_interval_ns;
	lp.max_entries = tita_min_u64(c->p.max_pairs, 1u << 20);
	f->leader_obj = tita_leader_new(&lp, &f->place);
	f->leader_due_ns = TITA_TIME_NEVER;
	return f->leader_obj ? 0 : -ENOMEM;
}

static void leader_take_lines(struct tita_ctl *c, struct port *pt, const struct tita_addr *member,
			      const struct tita_leaf_entry *lines, uint32_t n, uint64_t now_ns)
{
	struct fab_port *f = pt->fab;

	if (leader_ensure(c, f) < 0)
		return;
	for (uint32_t i = 0; i < n; i++) {
		struct tita_leaf_entry e = lines[i];

		e.member = *member;
		if (tita_leader_report(f->leader_obj, &e, now_ns) < 0)
			c->stats.leaf_lines_refused++;
	}
	f->leader_dirty = true;
	c->fabric_due_ns = tita_min_u64(c->fabric_due_ns, now_ns + fabric_batch_ns(c));
}

int ctl_on_leaf_report(struct tita_ctl *c, const struct tita_msg *m, uint64_t now_ns)
{
	/* The port in the reporter's leaf, and the reporter one of its members. */
	for (uint32_t p = 0; p < c->n_ports; p++) {
		struct fab_port *f = c->ports[p].fab;
		int idx;

		if (!f || f->place.leaf != m->leaf_id)
			continue;
		idx = member_index(f, &m->peer);
		if (idx < 0 || (uint32_t)idx == f->self)
			break;
		for (uint32_t i = 0; i < m->n_entries; i++)
			if (!tita_addr_eq(&m->leaf[i].member, &m->peer)) {
				c->stats.leaf_msgs_refused++;
				return 0;
			}
		/* It reports: it is alive, and takes us for its leader. A
		 * report of a large line (one that names its far leaf) is
		 * answered now: where it goes is settled by report and answer.
		 * The leaf's sums (an all-to-all's small pairs, reported every
		 * few rounds) are answered when their caps move, or at the
		 * refresh, which comes before the member would count us lost
		 * (refresh < grant TTL). Answered only when what the member
		 * holds moved, the reports of large lines cost a 64-host
		 * permutation on 16 spines 0.6 % of its completion (seeds
		 * 1-10), for 8 % less control at perm256's busiest host. */
		f->dead_until_ns[idx] = 0;
		for (uint32_t i = 0; i < m->n_entries; i++)
			if (m->leaf[i].remote_leaf != TITA_LEAF_ANY)
				f->answered_ns[idx] = 0;
		leader_take_lines(c, &c->ports[p], &m->peer, m->leaf, m->n_entries, now_ns);
		/* A member that leads no role told only the leaders of its
		 * lines' roles: the other role's leader hears it from us (not
		 * back from it: a leader told us what it saw itself). */
		if (m->recheck) {
			lead_recheck(c, (uint16_t)p, now_ns);
			if (f->leader[ROLE_UP] != (uint32_t)idx &&
			    f->leader[ROLE_DOWN] != (uint32_t)idx)
				tell_leaders(c, (uint16_t)p, now_ns);
		}
		/* Nor does it wait for the batch when a large line moves or
		 * leaves (a proposal forwarded, a move done, a line emptied):
		 * whoever stays on its link holds the share the collision left
		 * it until we answer, and a chain step waits for the answer.
		 * Other reports keep the batch (an all-to-all's leaders answer
		 * fewer of them). */
		for (uint32_t i = 0; i < m->n_entries; i++)
			if (m->leaf[i].remote_leaf != TITA_LEAF_ANY &&
			    (m->leaf[i].move_bps || !m->leaf[i].demand_bps))
				c->fabric_due_ns = now_ns;
		return (int)m->n_entries;
	}
	c->stats.leaf_msgs_refused++;
	return 0;
}

/* A member (or we) saw the fabric rehash: every member is answered at once
 * (within the round) and told to check where its placed pairs go. What an
 * answer tells a member it does not report back: only what its own checks
 * find, so this does not feed itself. */
static void lead_recheck(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct fab_port *f = c->ports[port].fab;

	told(c, port, now_ns);
	if (!f->leader_obj)
		return;
	f->lead_recheck_until_ns = now_ns + c->p.control_interval_ns;
	for (uint32_t i = 0; i < f->n_members; i++)
		f->answered_ns[i] = 0;
	f->leader_dirty = true;
	c->fabric_due_ns = now_ns;
}

/* Run the allocation and answer the members whose caps or orders changed,
 * or whose refresh is due. */
static void lead(struct tita_ctl *c, uint16_t port, uint64_t now_ns, bool round)
{
	struct port *pt = &c->ports[port];
	struct fab_port *f = pt->fab;
	struct tita_leaf_entry *lines = f->scratch;
	uint64_t up_room, down_room;
	bool recheck_out;

	if (!f->leader_obj)
		return;
	/* Not due yet: its deadline stays the controller's, or an early pass
	 * for something else (a report's batch) dropped it, and a chain step
	 * or a lapsing proposal waited for the next round (perm256 seed 1: a
	 * swap's newcomer sat on a resident's spine 90 us longer). */
	if (!f->leader_dirty && !round && now_ns < f->leader_due_ns) {
		c->fabric_due_ns = tita_min_u64(c->fabric_due_ns, f->leader_due_ns);
		return;
	}
	f->leader_dirty = false;
	tita_leader_run(f->leader_obj, now_ns);
	f->leader_due_ns = tita_leader_next_due_ns(f->leader_obj, now_ns);
	c->fabric_due_ns = tita_min_u64(c->fabric_due_ns, f->leader_due_ns);
	for (uint32_t i = 0; i < f->n_members; i++) {
		size_t n;
		bool mine = i == f->self;

		if (f->answered_ns[i] && now_ns - f->answered_ns[i] < c->p.refresh_ns &&
		    !tita_leader_changed(f->leader_obj, &f->members[i], c->p.demand_change_frac,
					 now_ns))
			continue;
		n = tita_leader_answer(f->leader_obj, &f->members[i], lines, LINES_MAX, &up_room,
				       &down_room, now_ns);
		if (!n)
			continue;
		n = tita_min_u64(n, LINES_MAX);
		tita_leader_mark_answered(f->leader_obj, &f->members[i], now_ns);
		f->answered_ns[i] = now_ns ? now_ns : 1;
		if (mine) {
			take_answer(c, port, lines, (uint32_t)n, up_room, down_room,
				    c->p.grant_ttl_ns, now_ns);
			continue;
		}
		recheck_out = now_ns < f->lead_recheck_until_ns;
		for (size_t k = 0; k < n; k++) {
			struct out_entry *e = ctl_outbox_push(c);

			if (!e)
				break;
			e->kind = TITA_MSG_LEAF_ANSWER;
			e->peer = f->members[i];
			e->leaf = (struct out_leaf){
				.line = lines[k],
				.leaf_id = f->place.leaf,
				.up_room_mask = up_room,
				.down_room_mask = down_room,
				.ttl_ns = c->p.grant_ttl_ns,
				.recheck = recheck_out,
			};
		}
		c->stats.leaf_answers++;
	}
}

/* ---- rounds ------------------------------------------------------------- */

static void maintain_paths(struct tita_ctl *c, uint16_t port, uint64_t now_ns)
{
	struct port *pt = &c->ports[port];

	for (uint32_t k = 0; k < c->pairs_hwm; k++) {
		struct pair *pr = &c->pairs[k];
		struct fab_probes *pb;

		if (c->slot_role[k] != TITA_PAIR_TX || pr->port != port)
			continue;
		if (pr->path == PATH_OFF) {
			/* A remote whose leaf became known since the pair began. */
			if (c->p.steer && in_fabric(pt, pr) && !pr->sport) {
				pr->sport = random_sport(c);
				pr->path = PATH_SPREAD;
				path_push(c, pr, pr->sport);
			}
			continue;
		}
		if (pr->path == PATH_SPREAD) {
			/* Grown large: from now on it is placed. So is one
			 * that sends at the large bar, whatever it has
			 * queued: counted a quarter on each uplink, it sends
			 * it all on one (WebSearch at 50 %: a 2.1 MB message
			 * beside its NIC's 7 MB one, 49 Gbit/s counted 12 on
			 * an uplink whose other pairs had the rest: 233
			 * Gbit/s paced on 200, a 600 KB queue for 200 us). */
			if (pr->big)
				start_probing(c, pr, UINT32_MAX, now_ns);
			else if (pair_use_bps(c, pr) >= big_bar_bps(c, pt->fab))
				start_probing(c, pr, SMALL_PROBES, now_ns);
			continue;
		}
		if (pr->path == PATH_MOVING && now_ns >= pr->path_until_ns) {
			move_failed(c, pr, now_ns);
			report_due(c, pt, now_ns);
		}
		pb = pr->probes;
		if (pb && pb->n_out && now_ns - pb->sent_ns >= probe_timeout_ns(c)) {
			c->stats.probes_lost += pb->n_out;
			pb->n_out = 0;
		}
		/* Lost probes do not keep a new pair from its place. */
		if (!pr->placed && pr->path == PATH_KNOWN && pb && !pb->n_out)
			place(c, pr, now_ns);
		if (pr->path == PATH_PROBING && pb && !pb->n_out)
			probe_push(c, pr, pr->sport, now_ns);
		/* A pair granted enough to steer alone learns where its
		 * source ports go before anyone asks it to move; one that
		 * forgot them (forget_ports()) only while it is held back:
		 * on a lossy link every loss told would otherwise have each
		 * large pair probe a batch again (fault-lossy: 2.7 -> 8.5
		 * probes per host per ms). */
		if (pr->path == PATH_KNOWN && pb && pb->n <= 1 && !pb->n_out &&
		    (!pb->forgot ||
		     (double)ctl_fabric_cap(pr, now_ns) < 0.9 * (double)pr->nic_share_bps) &&
		    pair_big(c, pt->fab, pr))
			probe_batch(c, pr, UINT32_MAX, now_ns);
		/* A large pair held back, that knows no port for some spine,
		 * probes for more now and then: the spine it does not know
		 * may be the one with room. */
		else if (pr->path == PATH_KNOWN && pb && !pb->n_out && pr->big &&
			 now_ns - pb->sent_ns >= 4 * probe_timeout_ns(c) &&
			 (known_spines(pr) | 1ull << pr->spine) != spines_mask(pt->fab) &&
			 (pr->seek ||
			  (double)ctl_fabric_cap(pr, now_ns) < 0.9 * (double)pr->nic_share_bps))
			probe_batch(c, pr, UINT32_MAX, now_ns);
		refresh_path(c, pr, now_ns);
		if (pr->want_spine != TITA_SPINE_NONE && pb && !pb->n_out)
			try_move(c, pr, now_ns);
		if (pr->want_spine != TITA_SPINE_NONE && now_ns >= pr->want_until_ns)
			pr->want_spine = TITA_SPINE_NONE;
		/* Where it could go can change with no answer (a move it
		 * wanted given up): a receiving leaf that asks it to move
		 * proposes from what it last heard, and would propose there
		 * round after round. */
		if (pr->move_asked && now_ns < pr->move_until_ns &&
		    pr->room_sent_mask != pair_room_mask(c, pr))
			ctl_send_demand_now(c, pr, now_ns);
	}
	learn_spines(c, port, now_ns);
}

static void fabric_port(struct tita_ctl *c, uint16_t port, uint64_t now_ns, bool round)
{
	struct fab_port *f = c->ports[port].fab;

	if (!f)
		return;
	if (round)
		maintain_paths(c, port, now_ns);
	nic_shares(c, port);
	build_lines(c, port, now_ns);
	if (round || f->report_due || f->report_check)
		report(c, port, now_ns);
	f->report_check = false;
	lead(c, port, now_ns, round);
	share_caps(c, port, now_ns);
}

void ctl_fabric_round(struct tita_ctl *c, uint64_t now_ns)
{
	c->fabric_due_ns = TITA_TIME_NEVER;
	for (uint32_t p = 0; p < c->n_ports; p++)
		fabric_port(c, (uint16_t)p, now_ns, true);
}

void ctl_fabric_early(struct tita_ctl *c, uint64_t now_ns)
{
	c->fabric_due_ns = TITA_TIME_NEVER;
	for (uint32_t p = 0; p < c->n_ports; p++)
		fabric_port(c, (uint16_t)p, now_ns, false);
	ctl_compose_dirty(c, now_ns);
}

/* ---- hooks from both sides ---------------------------------------------- */

uint64_t ctl_fabric_cap(const struct pair *pr, uint64_t now_ns)
{
	/* A pair on its way to another spine keeps its rate where it is: what
	 * it has posted must drain at it before its queue pairs can move (the
	 * caller holds its next message meanwhile). */
	uint64_t cap = now_ns < pr->leaf_cap_until_ns ? pr->leaf_cap_bps : TITA_RATE_UNPACED;

	if (pr->role == TITA_PAIR_TX && pr->hold_spine != TITA_SPINE_NONE)
		return tita_min_u64(cap, pr->hold_cap_bps);
	return cap;
}

/*
 * Marks on a pair that tita placed (CNPs to its sender, CE its receiver
 * reports) mean a collision it did not plan: most often the fabric rehashed
 * (a link went down or came back) and the pair's source port now goes
 * elsewhere. One probe of its own port tells; a new spine there makes the
 * whole port probe again (rehash()).
 */
void ctl_fabric_marked(struct tita_ctl *c, struct pair *pr, uint64_t now_ns)
{
	if (pr->path != PATH_KNOWN || !pr->probes || pr->probes->n_out ||
	    now_ns - pr->probes->sent_ns < probe_timeout_ns(c) ||
	    !in_fabric(&c->ports[pr->port], pr))
		return;
	probe_push(c, pr, pr->sport, now_ns);
	c->stats.probes_on_marks++;
}

void ctl_fabric_on_grant(struct tita_ctl *c, struct pair *pr, const struct tita_grant_entry *e,
			 uint64_t old_grant_bps, uint64_t now_ns)
{
	/* What the pair can use on its uplink follows its grant: its lines
	 * are looked at again at once (and reported if that moved them
	 * enough), so that a cap freed downstream frees the uplink too, hop
	 * by hop, without waiting for rounds. */
	if (in_fabric(&c->ports[pr->port], pr) &&
	    ctl_changed(tita_min_u64(pr->demand_bps, e->rate_bps),
			tita_min_u64(pr->demand_bps, old_grant_bps), c->p.demand_change_frac))
		report_soon(c, &c->ports[pr->port], now_ns);
	if (e->ce_ppm > c->p.rc_ce_threshold * 1e6)
		ctl_fabric_marked(c, pr, now_ns);
	if (e->recheck && in_fabric(&c->ports[pr->port], pr))
		recheck(c, pr->port, now_ns);
	pr->far_share_bps = e->share_bps;
	/* A grant for where it is going, before it got there. */
	if (pr->path == PATH_MOVING && e->has_spine && e->spine == pr->moving_spine)
		pr->moving_granted = true;
	if (pr->hold_spine != TITA_SPINE_NONE && e->has_spine && e->spine == pr->hold_spine) {
		pr->hold_spine = TITA_SPINE_NONE;
		c->port_dirty[pr->port] = true;
	}
	if (e->move && e->room_mask) {
		bool new_ask = !pr->move_asked || now_ns >= pr->move_until_ns ||
			       pr->move_mask != e->room_mask || pr->move_swap != e->swap;

		pr->move_asked = true;
		pr->move_mask = e->room_mask;
		pr->move_swap = e->swap;
		pr->move_until_ns = now_ns + c->p.control_interval_ns;
		if (new_ask)
			report_due(c, &c->ports[pr->port], now_ns);
	} else {
		pr->move_asked = false;
	}
}

void ctl_fabric_on_demand(struct tita_ctl *c, struct pair *pr, const struct tita_demand_entry *e,
			  uint64_t now_ns)
{
	uint16_t spine = e->has_spine ? e->spine : TITA_SPINE_NONE;

	pr->path_spine = e->has_path_spine ? e->path_spine : TITA_SPINE_NONE;
	if (pr->remote_leaf == TITA_LEAF_NONE)
		pr->remote_leaf = remote_leaf_of(c, &pr->remote);
	/* A new pair from another leaf is granted no more than the start rate
	 * until our leader has placed it on our downlinks, as its sender keeps
	 * to it until its own leader has placed it on the uplinks. */
	if (!pr->leaf_capped && !pr->leaf_cap_until_ns && in_fabric(&c->ports[pr->port], pr))
		start_cap(c, pr, e->left_bytes, now_ns);
	if (spine != pr->spine) {
		bool was_asked = pr->move_asked;
		bool kept = pr->move_asked && spine < TITA_SPINES_MAX &&
			    pr->move_mask >> spine & 1 && pr->move_cap_bps;

		/* It moved: whatever we asked of it is done. Where our leader
		 * keeps room for it (the last answer still carried the share
		 * kept), it goes on at that share at once; anywhere else
		 * others may already have the downlink's caps, and it gets the
		 * start rate until our leader has counted it there. The grant
		 * goes now: its sender waits for one that knows the move. */
		if (!kept && spine != TITA_SPINE_NONE && pr->leaf_capped &&
		    in_fabric(&c->ports[pr->port], pr)) {
			pr->leaf_cap_bps = (uint64_t)(c->p.start_rate_frac *
						      (double)c->ports[pr->port].line_rate_bps);
			pr->leaf_cap_until_ns = now_ns + c->p.grant_ttl_ns;
			/* Where it came from, for our leader: after a swap that
			 * spine is free here, and the line it lands on should
			 * move there (the next step of the same chain). */
			pr->came_from = pr->spine;
			pr->came_ns = now_ns ? now_ns : 1;
		} else if (kept && now_ns < pr->leaf_cap_until_ns) {
			/* The share kept goes in this grant: the cap it had
			 * where it came from was half a link when it left a
			 * collision (its sender would wait a report and an
			 * answer for the rest), or more than was kept when
			 * the link has others (they would meet over it). */
			set_cap(c, pr, pr->move_cap_bps, pr->leaf_cap_until_ns, now_ns);
		}
		pr->move_cap_bps = 0;
		pr->spine = spine;
		pr->move_asked = false;
		pr->grant_sent_ns = 0;
		c->port_needs_alloc[pr->port] = true;
		c->alloc_due_ns = tita_min_u64(c->alloc_due_ns, now_ns);
		/* At once only for a move our leader asked for: a rehash's
		 * (every pair of a NIC after a link failed) waits the batch,
		 * or the reports go one by one (linkfail64 recovered later). */
		if (pr->big && was_asked)
			report_now(c, &c->ports[pr->port], now_ns);
		else
			report_due(c, &c->ports[pr->port], now_ns);
	}
	if (e->seek != pr->src_seek || e->room_mask != pr->src_room_mask) {
		/* A seek is news for our leader; where the sender could go
		 * matters to it as soon as the pair needs a place. */
		if (e->seek != pr->src_seek)
			report_due(c, &c->ports[pr->port], now_ns);
		else
			report_soon(c, &c->ports[pr->port], now_ns);
		pr->src_seek = e->seek;
		pr->src_room_mask = e->room_mask;
	}
}

void ctl_fabric_fill_demand(const struct tita_ctl *c, struct pair *pr, struct tita_demand_entry *e,
			    uint64_t now_ns)
{
	if (!in_fabric(&c->ports[pr->port], pr))
		return;
	/* A spread pair's spine, for its receiver's health evidence only:
	 * apart from has_spine, which the receiving leaf counts. */
	if (pr->path == PATH_SPREAD && ctl_fabric_path_spine(pr) != TITA_SPINE_NONE) {
		e->has_path_spine = true;
		e->path_spine = pr->path_spine;
	}
	if (!pr->placed || pr->spine == TITA_SPINE_NONE ||
	    (pr->path != PATH_KNOWN && pr->path != PATH_MOVING))
		return;
	e->has_spine = true;
	/* On its way: where it goes (start_move). */
	e->spine = pr->path == PATH_MOVING && pr->moving_spine < TITA_SPINES_MAX ?
			   pr->moving_spine :
			   pr->spine;
	e->room_mask = pair_room_mask(c, pr);
	e->seek = pr->seek && now_ns < pr->seek_until_ns && pr->path == PATH_KNOWN;
	pr->room_sent_mask = e->room_mask;
}

void ctl_fabric_fill_grant(const struct tita_ctl *c, const struct pair *pr,
			   struct tita_grant_entry *e, uint64_t now_ns)
{
	if (!in_fabric(&c->ports[pr->port], pr))
		return;
	if (pr->spine != TITA_SPINE_NONE) {
		e->has_spine = true;
		e->spine = pr->spine;
	}
	if (e->rate_bps < pr->rx_alloc_bps)
		e->share_bps = pr->rx_alloc_bps;
	e->recheck = now_ns < c->ports[pr->port].fab->told_until_ns;
	if (!pr->move_asked || now_ns >= pr->move_until_ns || !pr->move_mask)
		return;
	e->move = true;
	e->room_mask = pr->move_mask;
	e->swap = pr->move_swap;
	return;
}

void ctl_fabric_pair_release(struct tita_ctl *c, struct pair *pr)
{
	free(pr->probes);
	pr->probes = NULL;
	if (c->ports[pr->port].fab)
		c->ports[pr->port].fab->report_due = true;
}

void ctl_fabric_free(struct tita_ctl *c)
{
	for (uint32_t p = 0; c->ports && p < c->n_ports; p++)
		c->ports[p].fab = fab_port_free(c->ports[p].fab);
	for (uint32_t k = 0; c->pairs && k < c->pairs_hwm; k++) {
		free(c->pairs[k].probes);
		c->pairs[k].probes = NULL;
	}
	if (c->places)
		free(c->places->slots);
	free(c->places);
	free(c->probes);
	free(c->paths);
}

void ctl_fabric_port_info(const struct tita_ctl *c, const struct port *pt,
			  struct tita_port_info *info)
{
	const struct fab_port *f = pt->fab;

	if (!f)
		return;
	info->place = f->place;
	info->leader = f->members[f->leader[ROLE_UP]];
	info->is_leader = f->leader[ROLE_UP] == f->self;
	info->leader_down = f->members[f->leader[ROLE_DOWN]];
	info->is_leader_down = f->leader[ROLE_DOWN] == f->self;
}

uint32_t tita_ctl_leaf_links(const struct tita_ctl *c, const struct tita_addr *local,
			     struct tita_leader_link *up, struct tita_leader_link *down)
{
	int port = ctl_port_find(c, local);
	const struct fab_port *f;

	if (port < 0 || !(f = c->ports[port].fab) || !f->leader_obj)
		return 0;
	tita_leader_links(f->leader_obj, up, down);
	return f->place.n_spines;
}

void tita_ctl_leader_stats(const struct tita_ctl *c, const struct tita_addr *local,
			   struct tita_leader_stats *ret_stats)
{
	int port = ctl_port_find(c, local);
	const struct fab_port *f;

	*ret_stats = (struct tita_leader_stats){ 0 };
	if (port >= 0 && (f = c->ports[port].fab) && f->leader_obj)
		tita_leader_stats(f->leader_obj, ret_stats);
}
