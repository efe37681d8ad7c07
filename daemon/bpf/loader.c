// SPDX-License-Identifier: MIT
/*
 * Loader: open the tita skeleton, reuse the maps pinned for the device,
 * attach XDP (native, else generic), tc egress (clsact) and the qdisc
 * sampler (tp_btf), and take all of it down again on request.
 *
 * Pin directory layout, <pin root>/<ifname>/:
 *   tita_rx_qp4 ... tita_tx_reason   the counters (maps.h: LIBBPF_PIN_BY_NAME)
 *   xdp_prog, tc_prog                 the attached programs: what "ours" means
 *   xdp_prog_new, tc_prog_new         while a replacement is being attached
 *   queue_link                        the sampler's tracepoint link
 *
 * A replacement is pinned as *_new before it is attached and renamed over
 * the old pin after, so a crash at any point leaves the attached program
 * pinned under one of the two names, and the next start still knows it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/pkt_sched.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "tita.skel.h"

#define PIN_XDP "xdp_prog"
#define PIN_TC "tc_prog"
#define PIN_NEW "_new" /* bpffs reserves names with dots */
#define PIN_QUEUE_LINK "queue_link"

/* Every map pin a tita version may have left, for the detach sweep. */
static const char *const map_pins[] = {
	TITA_MAP_RX_QP4,  TITA_MAP_RX_QP6,   TITA_MAP_RX_REASON,
	TITA_MAP_TX_PEER, TITA_MAP_TX_CLASS, TITA_MAP_TX_REASON,
};

/* The per-CPU tables are sized to about this much memory when the caller
 * gives no size: per-CPU values multiply by the CPU count, and a 192-CPU
 * host would otherwise preallocate gigabytes. */
#define AUTO_TABLE_BYTES (16u << 20)
#define AUTO_TABLE_MIN 1024u

struct ctx {
	const struct tita_bpf_opts *o;
	void (*log)(void *userdata, const char *msg);
	void *log_userdata;
	char *err_buf;
	size_t err_len;
};

static void __attribute__((format(printf, 2, 3))) dbg(const struct ctx *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!c->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->log(c->log_userdata, msg);
}

/* Record why we fail (first reason wins) and return -err. */
static int __attribute__((format(printf, 3, 4)))
fail(const struct ctx *c, int err, const char *fmt, ...)
{
	va_list ap;

	if (c->err_buf && c->err_len && !c->err_buf[0]) {
		va_start(ap, fmt);
		vsnprintf(c->err_buf, c->err_len, fmt, ap);
		va_end(ap);
	}
	dbg(c, "error: %s", c->err_buf ? c->err_buf : fmt);
	return -err;
}

static int join(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/*
 * The pin root must be on a bpf filesystem. When it would be under
 * /sys/fs/bpf and nothing is mounted there, mount bpffs the way systemd
 * does (mode 0700, nosuid, nodev, noexec). Note that `ip netns exec`
 * remounts /sys and hides bpffs; enter network namespaces with
 * nsenter --net= (or setns) instead.
 */
static int ensure_bpffs(const struct ctx *c, const char *pin_root, bool *ret_mounted)
{
	char path[PATH_MAX];
	struct statfs st;

	if (strlen(pin_root) >= sizeof(path) || pin_root[0] != '/')
		return fail(c, EINVAL, "pin root '%s' is not an absolute path", pin_root);
	strcpy(path, pin_root);
	/* The nearest existing ancestor tells which filesystem it is on. */
	while (statfs(path, &st) != 0) {
		char *slash = strrchr(path, '/');

		if (errno != ENOENT)
			return fail(c, errno, "statfs %s: %s", path, strerror(errno));
		if (!slash || slash == path) {
			strcpy(path, "/");
			if (statfs(path, &st) != 0)
				return fail(c, errno, "statfs /: %s", strerror(errno));
			break;
		}
		*slash = '\0';
	}
	if ((unsigned long)st.f_type == BPF_FS_MAGIC)
		return 0;
	if (!path_under(pin_root, "/sys/fs/bpf"))
		return fail(c, ENOTDIR,
			    "pin root %s is not on a bpf filesystem (mount -t bpf bpf <dir>)",
			    pin_root);
	if (mount("bpf", "/sys/fs/bpf", "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700"))
		return fail(c, errno,
			    "bpffs is not mounted on /sys/fs/bpf and mounting it failed: %s "
			    "(mount -t bpf bpf /sys/fs/bpf)",
			    strerror(errno));
	dbg(c, "mounted bpffs on /sys/fs/bpf");
	*ret_mounted = true;
	return 0;
}

/* The id of the program pinned at path, or 0 when nothing is. */
static uint32_t pinned_prog_id(const char *path, int *ret_fd)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return 0;
	}
	if (ret_fd)
		*ret_fd = fd;
	else
		close(fd);
	return info.id;
}

/* Ours: pinned as <dir>/<name> or <dir>/<name>_new. Returns the pinned
 * program's fd (for XDP_FLAGS_REPLACE) or -1. */
static int ours(const char *dir, const char *name, uint32_t id)
{
	char path[PATH_MAX], pathnew[PATH_MAX + 8];
	int fd = -1;

	if (!id || join(path, sizeof(path), dir, name))
		return -1;
	snprintf(pathnew, sizeof(pathnew), "%s%s", path, PIN_NEW);
	if (pinned_prog_id(path, &fd) == id)
		return fd;
	if (fd >= 0)
		close(fd);
	fd = -1;
	if (pinned_prog_id(pathnew, &fd) == id)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static const char *prog_name(uint32_t id, char *buf, size_t size)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	snprintf(buf, size, "?");
	if (fd >= 0) {
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			snprintf(buf, size, "%s", info.name);
		close(fd);
	}
	return buf;
}

static uint32_t auto_entries(uint32_t asked, uint32_t def, size_t value_size, bool percpu)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t per_entry =
		((value_size + 7) & ~(size_t)7) * (uint64_t)(percpu && ncpu > 0 ? ncpu : 1);
	uint64_t n;

	if (asked)
		return asked;
	n = AUTO_TABLE_BYTES / per_entry;
	if (n > def)
		n = def;
	if (n < AUTO_TABLE_MIN)
		n = AUTO_TABLE_MIN;
	return (uint32_t)n;
}

static bool queue_possible(char *why, size_t size)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok;

	if (!btf) {
		snprintf(why, size, "no kernel BTF (/sys/kernel/btf/vmlinux): %s", strerror(errno));
		return false;
	}
	ok = btf__find_by_name_kind(btf, "btf_trace_qdisc_dequeue", BTF_KIND_TYPEDEF) > 0;
	if (!ok)
		snprintf(why, size, "the kernel's BTF has no qdisc_dequeue tracepoint");
	btf__free(btf);
	return ok;
}

/*
 * A pinned map whose layout differs from the one about to be loaded (an
 * upgrade changed a value, or the caller a table size) cannot be reused:
 * drop its pin so that libbpf creates, and pins, a fresh one. Returns how
 * many pinned maps will be reused.
 */
static int drop_incompatible_pins(const struct ctx *c, struct bpf_object *obj)
{
	struct bpf_map *map;
	int reused = 0;

	bpf_object__for_each_map(map, obj)
	{
		const char *path = bpf_map__pin_path(map);
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);
		int fd;

		if (!path)
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
		    info.value_size == bpf_map__value_size(map) &&
		    info.max_entries == bpf_map__max_entries(map) &&
		    info.map_flags == bpf_map__map_flags(map)) {
			reused++;
		} else {
			dbg(c, "%s: layout or size changed, recreating it (its counters restart)",
			    path);
			unlink(path);
		}
		close(fd);
	}
	return reused;
}

static uint32_t netns_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) == 0 ? (uint32_t)st.st_ino : 0;
}

static int open_load(struct tita_bpf *b, const struct ctx *c, bool with_queue)
{
	const struct tita_bpf_opts *o = c->o;
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = b->info.pin_dir);
	struct tita *s;
	int err;

	s = tita__open_opts(&oo);
	if (!s)
		return fail(c, errno, "cannot open the BPF object: %s", strerror(errno));

	bpf_map__set_max_entries(s->maps.tita_rx_qp4,
				 auto_entries(o->rx_qp4_entries, TITA_RX_QP4_ENTRIES,
					      sizeof(struct tita_rx_counters), true));
	bpf_map__set_max_entries(s->maps.tita_rx_qp6,
				 auto_entries(o->rx_qp6_entries, TITA_RX_QP6_ENTRIES,
					      sizeof(struct tita_rx_counters), true));
	bpf_map__set_max_entries(s->maps.tita_tx_peer,
				 auto_entries(o->tx_peer_entries, TITA_TX_PEER_ENTRIES,
					      sizeof(struct tita_tx_counters), true));
	bpf_map__set_max_entries(s->maps.tita_tx_class,
				 o->tx_class_entries ? o->tx_class_entries : TITA_TX_CLASS_ENTRIES);

	s->rodata->rx_per_qp = !o->rx_per_source;
	s->rodata->rx_loss = !o->rx_no_loss;
	if (o->rx_no_loss) {
		/* Never used: the smallest table a hash may be. */
		bpf_map__set_max_entries(s->maps.tita_rx_psn4, 1);
		bpf_map__set_max_entries(s->maps.tita_rx_psn6, 1);
	}
	s->rodata->tx_classify = !o->tx_no_classify;
	s->rodata->queue_ifindex = (uint32_t)b->info.ifindex;
	s->rodata->queue_netns_ino = netns_ino();

	bpf_program__set_autoload(s->progs.tita_xdp_rx, o->xdp_mode != TITA_BPF_XDP_OFF);
	bpf_program__set_autoload(s->progs.tita_tc_tx, !o->no_tc);
	bpf_program__set_autoload(s->progs.tita_queue_deq, with_queue);

	b->info.maps_reused = drop_incompatible_pins(c, s->obj) > 0;
	err = tita__load(s);
	if (err) {
		err = -errno;
		tita__destroy(s);
		return fail(c, -err, "cannot load the BPF programs: %s", strerror(-err));
	}
	b->skel = s;
	return 0;
}

/* Pin fd at <dir>/<name>_new (replacing a stale one). */
static int pin_new(const struct ctx *c, const char *dir, const char *name, int fd)
{
	char path[PATH_MAX], pathnew[PATH_MAX + 8];

	if (join(path, sizeof(path), dir, name))
		return fail(c, ENAMETOOLONG, "pin path too long");
	snprintf(pathnew, sizeof(pathnew), "%s%s", path, PIN_NEW);
	unlink(pathnew);
	if (bpf_obj_pin(fd, pathnew))
		return fail(c, errno, "cannot pin %s: %s", pathnew, strerror(errno));
	return 0;
}

/* Attached: <name>_new becomes <name>. Failed: drop <name>_new. */
static void pin_commit(const char *dir, const char *name, bool attached)
{
	char path[PATH_MAX], pathnew[PATH_MAX + 8];

	if (join(path, sizeof(path), dir, name))
		return;
	snprintf(pathnew, sizeof(pathnew), "%s%s", path, PIN_NEW);
	if (attached)
		rename(pathnew, path);
	else
		unlink(pathnew);
}

static int attach_xdp(struct tita_bpf *b, const struct ctx *c)
{
	const struct tita_bpf_opts *o = c->o;
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	const char *dir = b->info.pin_dir;
	int ifindex = b->info.ifindex;
	int fd = bpf_program__fd(b->skel->progs.tita_xdp_rx);
	uint32_t ids[3], flags[3] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_HW_MODE };
	int old_fd = -1, err;
	uint32_t mode = 0;
	char name[32];

	if (bpf_xdp_query(ifindex, 0, &q))
		return fail(c, errno, "cannot query XDP on %s: %s", b->info.ifname,
			    strerror(errno));
	ids[0] = q.drv_prog_id;
	ids[1] = q.skb_prog_id;
	ids[2] = q.hw_prog_id;
	for (int i = 0; i < 3; i++) {
		int fdi;

		if (!ids[i])
			continue;
		fdi = ours(dir, PIN_XDP, ids[i]);
		if (fdi < 0) {
			if (old_fd >= 0)
				close(old_fd);
			return fail(c, EBUSY,
				    "%s already has XDP program %u (%s), not tita's: refusing to "
				    "replace it (remove it with: ip link set dev %s xdp off)",
				    b->info.ifname, ids[i], prog_name(ids[i], name, sizeof(name)),
				    b->info.ifname);
		}
		if (old_fd >= 0)
			close(old_fd);
		old_fd = fdi;
		mode = flags[i];
	}

	err = pin_new(c, dir, PIN_XDP, fd);
	if (err)
		goto out;
	if (old_fd >= 0 && (o->xdp_mode == TITA_BPF_XDP_AUTO ||
			    (o->xdp_mode == TITA_BPF_XDP_NATIVE) == (mode == XDP_FLAGS_DRV_MODE))) {
		/* Our own program, in the mode asked for: swap it atomically. */
		LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = old_fd);

		err = bpf_xdp_attach(ifindex, fd, mode | XDP_FLAGS_REPLACE, &ao);
		if (err)
			err = fail(c, errno, "cannot replace tita's XDP program on %s: %s",
				   b->info.ifname, strerror(errno));
	} else {
		if (old_fd >= 0) {
			/* Ours, but in the other mode: take it off first. */
			LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = old_fd);

			bpf_xdp_detach(ifindex, mode | XDP_FLAGS_REPLACE, &ao);
		}
		mode = o->xdp_mode == TITA_BPF_XDP_GENERIC ? XDP_FLAGS_SKB_MODE :
							     XDP_FLAGS_DRV_MODE;
		err = bpf_xdp_attach(ifindex, fd, mode | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
		if (err && mode == XDP_FLAGS_DRV_MODE && o->xdp_mode == TITA_BPF_XDP_AUTO &&
		    errno != EBUSY && errno != EEXIST) {
			dbg(c, "%s: native XDP failed (%s), using generic XDP", b->info.ifname,
			    strerror(errno));
			mode = XDP_FLAGS_SKB_MODE;
			err = bpf_xdp_attach(ifindex, fd, mode | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
		}
		if (err)
			err = fail(c, errno == EOPNOTSUPP ? EOPNOTSUPP : errno,
				   "cannot attach XDP (%s mode) to %s: %s",
				   mode == XDP_FLAGS_DRV_MODE ? "native" : "generic",
				   b->info.ifname, strerror(errno));
	}
	pin_commit(dir, PIN_XDP, err == 0);
	if (!err) {
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);

		bpf_obj_get_info_by_fd(fd, &info, &len);
		b->info.xdp_prog_id = info.id;
		b->info.xdp_mode = mode == XDP_FLAGS_SKB_MODE ? TITA_BPF_XDP_GENERIC :
								TITA_BPF_XDP_NATIVE;
		dbg(c, "%s: XDP program %u attached (%s)", b->info.ifname, info.id,
		    mode == XDP_FLAGS_SKB_MODE ? "generic" : "native");
	}
out:
	if (old_fd >= 0)
		close(old_fd);
	return err;
}

static int attach_tc(struct tita_bpf *b, const struct ctx *c)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = b->info.ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = TITA_BPF_TC_HANDLE, .priority = TITA_BPF_TC_PRIORITY);
	const char *dir = b->info.pin_dir;
	int fd = bpf_program__fd(b->skel->progs.tita_tc_tx);
	uint32_t flags = 0;
	char name[32];
	int err, n;

	if (tita_bpf_has_clsact(b->info.ifindex) != 1) {
		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST)
			return fail(c, -err, "cannot create the clsact qdisc on %s: %s",
				    b->info.ifname, strerror(-err));
	}
	n = tita_bpf_count_tc_filters(b->info.ifindex, TC_H_MIN_EGRESS);
	/* An empty hook has no chain yet, and the kernel answers a query on
	 * it with EINVAL rather than ENOENT: ask only when filters exist. */
	err = n > 0 ? bpf_tc_query(&hook, &q) : -ENOENT;
	if (err == -EINVAL)
		err = -ENOENT; /* filters, but no chain with our priority */
	if (err == 0) {
		int old = ours(dir, PIN_TC, q.prog_id);

		if (old < 0)
			return fail(c, EBUSY,
				    "%s: tc egress filter handle 0x%x priority 0x%x holds program "
				    "%u (%s), not tita's: refusing to replace it",
				    b->info.ifname, TITA_BPF_TC_HANDLE, TITA_BPF_TC_PRIORITY,
				    q.prog_id, prog_name(q.prog_id, name, sizeof(name)));
		close(old);
		flags = BPF_TC_F_REPLACE;
	} else if (err != -ENOENT) {
		return fail(c, -err, "cannot query tc egress on %s: %s", b->info.ifname,
			    strerror(-err));
	}

	err = pin_new(c, dir, PIN_TC, fd);
	if (err)
		return err;
	{
		LIBBPF_OPTS(bpf_tc_opts, a, .handle = TITA_BPF_TC_HANDLE,
			    .priority = TITA_BPF_TC_PRIORITY, .prog_fd = fd, .flags = flags);

		err = bpf_tc_attach(&hook, &a);
		if (err)
			err = fail(c, -err, "cannot attach the tc egress program to %s: %s",
				   b->info.ifname, strerror(-err));
		else
			b->info.tc_prog_id = a.prog_id;
	}
	pin_commit(dir, PIN_TC, err == 0);
	if (!err) {
		b->info.tc_attached = true;
		dbg(c, "%s: tc egress program %u attached", b->info.ifname, b->info.tc_prog_id);
	}
	return err;
}

static int attach_queue(struct tita_bpf *b, const struct ctx *c)
{
	char path[PATH_MAX];
	struct bpf_link *link;
	int err;

	if (join(path, sizeof(path), b->info.pin_dir, PIN_QUEUE_LINK))
		return fail(c, ENAMETOOLONG, "pin path too long");
	link = bpf_program__attach(b->skel->progs.tita_queue_deq);
	if (!link)
		return fail(c, errno, "cannot attach the queue sampler: %s", strerror(errno));
	/* The old link (a previous daemon's) detaches when its pin goes. */
	unlink(path);
	err = bpf_link__pin(link, path);
	if (err) {
		bpf_link__destroy(link);
		return fail(c, -err, "cannot pin %s: %s", path, strerror(-err));
	}
	b->queue_link = link;
	b->info.queue_attached = true;
	{
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);

		if (!bpf_obj_get_info_by_fd(bpf_program__fd(b->skel->progs.tita_queue_deq), &info,
					    &len))
			b->info.queue_prog_id = info.id;
	}
	dbg(c, "%s: queue sampler attached", b->info.ifname);
	return 0;
}

/*
 * Take down what is ours on ifindex (any ifindex <= 0: the device is gone,
 * only the pins remain) and remove the pins. Keeps going after a failure;
 * returns the first.
 */
static int detach_dir(const struct ctx *c, const char *ifname, int ifindex, const char *pin_dir,
		      const char *pin_root)
{
	char path[PATH_MAX], pathnew[PATH_MAX + 8];
	int first = 0, err;

	if (ifindex > 0) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		if (bpf_xdp_query(ifindex, 0, &q) == 0) {
			uint32_t ids[3] = { q.drv_prog_id, q.skb_prog_id, q.hw_prog_id };
			uint32_t flags[3] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE,
					      XDP_FLAGS_HW_MODE };

			for (int i = 0; i < 3; i++) {
				int fd = ours(pin_dir, PIN_XDP, ids[i]);
				LIBBPF_OPTS(bpf_xdp_attach_opts, ao, .old_prog_fd = fd);

				if (fd < 0)
					continue;
				err = bpf_xdp_detach(ifindex, flags[i] | XDP_FLAGS_REPLACE, &ao);
				if (err && !first)
					first = fail(c, errno, "cannot detach XDP from %s: %s",
						     ifname, strerror(errno));
				close(fd);
			}
		}
	}
	if (ifindex > 0) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, q, .handle = TITA_BPF_TC_HANDLE,
			    .priority = TITA_BPF_TC_PRIORITY);

		/* No filter at all: nothing of ours is there, and libbpf need
		 * not print the kernel's complaint about a missing chain. */
		if (tita_bpf_count_tc_filters(ifindex, TC_H_MIN_EGRESS) > 0 &&
		    bpf_tc_query(&hook, &q) == 0) {
			int fd = ours(pin_dir, PIN_TC, q.prog_id);

			if (fd >= 0) {
				LIBBPF_OPTS(bpf_tc_opts, d, .handle = TITA_BPF_TC_HANDLE,
					    .priority = TITA_BPF_TC_PRIORITY);

				close(fd);
				err = bpf_tc_detach(&hook, &d);
				if (err && !first)
					first = fail(c, -err, "cannot detach tc from %s: %s",
						     ifname, strerror(-err));
			}
		}
		/* Remove clsact only when nothing else is left on it. */
		if (tita_bpf_has_clsact(ifindex) == 1 &&
		    tita_bpf_count_tc_filters(ifindex, TC_H_MIN_EGRESS) == 0 &&
		    tita_bpf_count_tc_filters(ifindex, TC_H_MIN_INGRESS) == 0) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
	}

	/* Pins: the link detaches once its last reference (this pin) goes. */
	if (join(path, sizeof(path), pin_dir, PIN_QUEUE_LINK) == 0)
		unlink(path);
	for (size_t i = 0; i < 2; i++) {
		if (join(path, sizeof(path), pin_dir, i ? PIN_TC : PIN_XDP))
			continue;
		snprintf(pathnew, sizeof(pathnew), "%s%s", path, PIN_NEW);
		unlink(path);
		unlink(pathnew);
	}
	for (size_t i = 0; i < sizeof(map_pins) / sizeof(map_pins[0]); i++)
		if (join(path, sizeof(path), pin_dir, map_pins[i]) == 0)
			unlink(path);
	if (rmdir(pin_dir) && errno != ENOENT && !first)
		first = fail(c, errno, "cannot remove %s: %s", pin_dir, strerror(errno));
	rmdir(pin_root); /* only when no other device is pinned there */
	return first;
}

static int make_pin_dir(char *buf, size_t size, const char *root, const char *ifname)
{
	if (!ifname || !*ifname || strchr(ifname, '/') || !strcmp(ifname, ".") ||
	    !strcmp(ifname, ".."))
		return -EINVAL;
	return join(buf, size, root, ifname);
}

struct tita_bpf *tita_bpf_attach(const struct tita_bpf_opts *o)
{
	struct ctx c = { .o = o };
	const char *root;
	struct tita_bpf *b;
	bool with_queue = false, fresh_dir;
	int err;

	if (!o || !o->ifname) {
		errno = EINVAL;
		return NULL;
	}
	c.log = o->log;
	c.log_userdata = o->log_userdata;
	c.err_buf = o->err_buf;
	c.err_len = o->err_len;
	if (c.err_buf && c.err_len)
		c.err_buf[0] = '\0';
	root = o->pin_root ? o->pin_root : TITA_BPF_PIN_ROOT_DEFAULT;

	b = calloc(1, sizeof(*b));
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	b->log = o->log;
	b->log_userdata = o->log_userdata;
	if (strlen(o->ifname) >= sizeof(b->info.ifname) || strlen(root) >= sizeof(b->pin_root)) {
		err = fail(&c, EINVAL, "interface name or pin root too long");
		goto err_free;
	}
	strcpy(b->info.ifname, o->ifname);
	strcpy(b->pin_root, root);
	b->info.ifindex = (int)if_nametoindex(o->ifname);
	if (!b->info.ifindex) {
		err = fail(&c, ENODEV, "no network device %s", o->ifname);
		goto err_free;
	}
	if (make_pin_dir(b->info.pin_dir, sizeof(b->info.pin_dir), root, o->ifname)) {
		err = fail(&c, EINVAL, "bad interface name or pin root");
		goto err_free;
	}
	err = ensure_bpffs(&c, root, &b->info.bpffs_mounted);
	if (err)
		goto err_free;
	fresh_dir = access(b->info.pin_dir, F_OK) != 0;
	err = mkdir_p(b->info.pin_dir, 0700);
	if (err) {
		err = fail(&c, -err, "cannot create %s: %s", b->info.pin_dir, strerror(-err));
		goto err_free;
	}

	if (o->queue_mode != TITA_BPF_QUEUE_OFF) {
		with_queue =
			queue_possible(b->info.queue_off_reason, sizeof(b->info.queue_off_reason));
		if (!with_queue && o->queue_mode == TITA_BPF_QUEUE_ON) {
			err = fail(&c, EOPNOTSUPP, "queue sampler: %s", b->info.queue_off_reason);
			goto err_undo;
		}
	} else {
		snprintf(b->info.queue_off_reason, sizeof(b->info.queue_off_reason), "turned off");
	}
	err = open_load(b, &c, with_queue);
	if (err && with_queue && o->queue_mode == TITA_BPF_QUEUE_AUTO) {
		/* A kernel whose BTF names the tracepoint but whose verifier or
		 * layout the sampler does not fit: run without it. */
		snprintf(b->info.queue_off_reason, sizeof(b->info.queue_off_reason),
			 "the kernel rejected the sampler (%s)", strerror(-err));
		if (c.err_buf && c.err_len)
			c.err_buf[0] = '\0';
		with_queue = false;
		err = open_load(b, &c, false);
	}
	if (err)
		goto err_undo;

	if (o->xdp_mode != TITA_BPF_XDP_OFF) {
		err = attach_xdp(b, &c);
		if (err)
			goto err_undo;
	} else {
		b->info.xdp_mode = TITA_BPF_XDP_OFF;
	}
	if (!o->no_tc) {
		err = attach_tc(b, &c);
		if (err)
			goto err_undo;
	}
	if (with_queue) {
		err = attach_queue(b, &c);
		if (err)
			goto err_undo;
	}
	return b;

err_undo:
	/* A first attach that failed half-way leaves nothing behind; a failed
	 * re-attach leaves the previous (working) attachment alone. */
	if (fresh_dir)
		detach_dir(&c, b->info.ifname, b->info.ifindex, b->info.pin_dir, b->pin_root);
err_free:
	bpf_link__destroy(b->queue_link);
	tita__destroy(b->skel);
	free(b);
	errno = -err;
	return NULL;
}

struct tita_bpf *tita_bpf_free(struct tita_bpf *b)
{
	if (!b)
		return NULL;
	/* Pinned: closing our reference leaves the link attached. */
	bpf_link__destroy(b->queue_link);
	tita__destroy(b->skel);
	free(b);
	return NULL;
}

static bool pinned(const char *dir, const char *name)
{
	char path[PATH_MAX];

	return join(path, sizeof(path), dir, name) == 0 && access(path, F_OK) == 0;
}

bool tita_bpf_pins_intact(const struct tita_bpf *b)
{
	struct bpf_map *map;

	if (access(b->info.pin_dir, F_OK))
		return false;
	bpf_object__for_each_map(map, b->skel->obj)
	{
		const char *path = bpf_map__pin_path(map);

		if (path && access(path, F_OK))
			return false;
	}
	if (b->info.xdp_mode != TITA_BPF_XDP_OFF && !pinned(b->info.pin_dir, PIN_XDP))
		return false;
	if (b->info.tc_attached && !pinned(b->info.pin_dir, PIN_TC))
		return false;
	if (b->queue_link && !pinned(b->info.pin_dir, PIN_QUEUE_LINK))
		return false;
	return true;
}

/* Pin fd at dir/name unless something is pinned there already. */
static int repin_one(const char *dir, const char *name, int fd)
{
	char path[PATH_MAX];

	if (join(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	if (fd < 0 || access(path, F_OK) == 0)
		return 0;
	return bpf_obj_pin(fd, path) ? -errno : 0;
}

int tita_bpf_repin(struct tita_bpf *b)
{
	struct bpf_map *map;
	int first = 0, r;

	r = mkdir_p(b->info.pin_dir, 0700);
	if (r)
		return r;
	bpf_object__for_each_map(map, b->skel->obj)
	{
		const char *path = bpf_map__pin_path(map);

		/* libbpf believes these are still pinned: pin by descriptor. */
		if (path && access(path, F_OK) && bpf_obj_pin(bpf_map__fd(map), path) && !first)
			first = -errno;
	}
	if (b->info.xdp_mode != TITA_BPF_XDP_OFF) {
		r = repin_one(b->info.pin_dir, PIN_XDP,
			      bpf_program__fd(b->skel->progs.tita_xdp_rx));
		if (r && !first)
			first = r;
	}
	if (b->info.tc_attached) {
		r = repin_one(b->info.pin_dir, PIN_TC, bpf_program__fd(b->skel->progs.tita_tc_tx));
		if (r && !first)
			first = r;
	}
	if (b->queue_link) {
		r = repin_one(b->info.pin_dir, PIN_QUEUE_LINK, bpf_link__fd(b->queue_link));
		if (r && !first)
			first = r;
	}
	return first;
}

int tita_bpf_detach(struct tita_bpf *b)
{
	struct ctx c = { .log = b->log, .log_userdata = b->log_userdata };
	int ifindex = (int)if_nametoindex(b->info.ifname);
	int err;

	/* "Ours" is what is pinned: pins deleted under us are put back from
	 * our own descriptors first, so that what we attached is found and
	 * taken down. */
	tita_bpf_repin(b);
	/* The device may have been recreated under the same name: only act
	 * on the one we attached to. */
	if (ifindex != b->info.ifindex)
		ifindex = 0;
	err = detach_dir(&c, b->info.ifname, ifindex, b->info.pin_dir, b->pin_root);
	bpf_link__destroy(b->queue_link);
	b->queue_link = NULL;
	b->info.queue_attached = false;
	b->info.tc_attached = false;
	b->info.xdp_mode = TITA_BPF_XDP_OFF;
	return err;
}

int tita_bpf_detach_pinned(const char *ifname, const char *pin_root, char *err_buf, size_t err_len)
{
	struct ctx c = { .err_buf = err_buf, .err_len = err_len };
	char dir[256];

	if (err_buf && err_len)
		err_buf[0] = '\0';
	if (!pin_root)
		pin_root = TITA_BPF_PIN_ROOT_DEFAULT;
	if (make_pin_dir(dir, sizeof(dir), pin_root, ifname))
		return fail(&c, EINVAL, "bad interface name or pin root");
	if (access(dir, F_OK))
		return fail(&c, ENOENT, "nothing pinned at %s", dir);
	return detach_dir(&c, ifname, (int)if_nametoindex(ifname), dir, pin_root);
}

void tita_bpf_get_info(const struct tita_bpf *b, struct tita_bpf_info *ret_info)
{
	*ret_info = b->info;
}

static int class_key(const struct tita_addr *dst, struct tita_peer_key *k)
{
	_Static_assert(sizeof(k->addr) == sizeof(dst->bytes), "address layouts differ");
	memcpy(k->addr, dst->bytes, sizeof(k->addr));
	return 0;
}

int tita_bpf_class_set(struct tita_bpf *b, const struct tita_addr *dst, uint32_t classid,
		       uint64_t expires_ns)
{
	struct tita_tx_class v = { .classid = classid, .expires_ns = expires_ns };
	struct tita_peer_key k;

	if (!classid)
		return -EINVAL;
	class_key(dst, &k);
	if (bpf_map__update_elem(b->skel->maps.tita_tx_class, &k, sizeof(k), &v, sizeof(v),
				 BPF_ANY))
		return -errno;
	return 0;
}

int tita_bpf_class_clear(struct tita_bpf *b, const struct tita_addr *dst)
{
	struct tita_peer_key k;

	class_key(dst, &k);
	if (bpf_map__delete_elem(b->skel->maps.tita_tx_class, &k, sizeof(k), 0))
		return -errno;
	return 0;
}

int tita_bpf_class_renew(struct tita_bpf *b, const struct tita_addr *dsts, const uint32_t *classids,
			 uint32_t n, uint64_t expires_ns)
{
	struct tita_peer_key *keys;
	struct tita_tx_class *vals;
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	uint32_t count = n;
	int r = 0;

	if (!n)
		return 0;
	keys = calloc(n, sizeof(*keys));
	vals = calloc(n, sizeof(*vals));
	if (!keys || !vals) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		class_key(&dsts[i], &keys[i]);
		vals[i] =
			(struct tita_tx_class){ .classid = classids[i], .expires_ns = expires_ns };
	}
	if (bpf_map_update_batch(bpf_map__fd(b->skel->maps.tita_tx_class), keys, vals, &count, &o))
		r = -errno;
out:
	free(keys);
	free(vals);
	return r;
}
