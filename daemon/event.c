// SPDX-License-Identifier: MIT
/*
 * The one file that owns titad's event loop (as lldpd's event.c does):
 * epoll, a single timerfd multiplexing every timer, and a signalfd; and
 * the only file that reads the clock (clock.h), once per batch.
 *
 * Sources removed while a batch of epoll events is being dispatched are
 * only marked dead and freed after the batch, so a callback may close any
 * connection, its own included, without a later event in the same batch
 * touching freed memory.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock.h"
#include "event.h"

#define MAX_TIMERS 24
#define BATCH 32

struct tita_event_source {
	int fd;
	uint32_t events;
	uint64_t resume_ns; /* paused until then; 0: watched */
	struct tita_event_source *next_paused;
	bool dead;
	tita_event_fd_fn fn;
	void *data;
	struct tita_event_source *next_dead;
};

struct tita_timer {
	uint64_t deadline_ns;
	tita_event_timer_fn fn;
	void *data;
};

struct tita_event {
	int epfd;
	int tfd;
	int sigfd;
	uint64_t armed_ns; /* the timerfd's next expiry; UINT64_MAX: disarmed */
	uint64_t period_ns; /* the timerfd's interval; 0: one-shot */
	uint64_t now_ns;
	uint64_t real_ns; /* 0: not read in this batch yet */
	bool fake; /* tita_event_dispatch(): no clock is read */
	bool exiting;
	int exit_code;
	uint32_t n_timers;
	struct tita_timer timers[MAX_TIMERS];
	struct tita_event_source timer_src, signal_src;
	tita_event_signal_fn sig_fn;
	void *sig_data;
	struct tita_event_source *dead;
	struct tita_event_source *paused;
};

struct tita_event *tita_event_new(void)
{
	struct tita_event *ev = calloc(1, sizeof(*ev));
	struct epoll_event e = { .events = EPOLLIN };

	if (!ev)
		return NULL;
	ev->sigfd = -1;
	ev->armed_ns = UINT64_MAX;
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	ev->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ev->epfd < 0 || ev->tfd < 0)
		goto fail;
	ev->timer_src.fd = ev->tfd;
	e.data.ptr = &ev->timer_src;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->tfd, &e))
		goto fail;
	tita_event_update_now(ev);
	return ev;
fail : {
	int err = errno;

	tita_event_free(ev);
	errno = err;
	return NULL;
}
}

static void reap(struct tita_event *ev)
{
	while (ev->dead) {
		struct tita_event_source *s = ev->dead;

		ev->dead = s->next_dead;
		free(s);
	}
}

struct tita_event *tita_event_free(struct tita_event *ev)
{
	if (!ev)
		return NULL;
	reap(ev);
	if (ev->epfd >= 0)
		close(ev->epfd);
	if (ev->tfd >= 0)
		close(ev->tfd);
	if (ev->sigfd >= 0)
		close(ev->sigfd);
	free(ev);
	return NULL;
}

struct tita_event_source *tita_event_fd_add(struct tita_event *ev, int fd, uint32_t events,
					    tita_event_fd_fn fn, void *data)
{
	struct tita_event_source *s = calloc(1, sizeof(*s));
	struct epoll_event e = { .events = events };

	if (!s)
		return NULL;
	s->fd = fd;
	s->events = events;
	s->fn = fn;
	s->data = data;
	e.data.ptr = s;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e)) {
		int err = errno;

		free(s);
		errno = err;
		return NULL;
	}
	return s;
}

int tita_event_fd_mod(struct tita_event *ev, struct tita_event_source *s, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = s };

	s->events = events;
	if (s->resume_ns)
		return 0; /* takes effect when it resumes */
	return epoll_ctl(ev->epfd, EPOLL_CTL_MOD, s->fd, &e) ? -errno : 0;
}

static void unpause(struct tita_event *ev, struct tita_event_source *s)
{
	struct tita_event_source **pp = &ev->paused;

	while (*pp && *pp != s)
		pp = &(*pp)->next_paused;
	if (*pp)
		*pp = s->next_paused;
	s->next_paused = NULL;
	s->resume_ns = 0;
}

int tita_event_fd_pause(struct tita_event *ev, struct tita_event_source *s, uint64_t resume_ns)
{
	if (s->dead)
		return -EINVAL;
	if (!s->resume_ns) {
		if (epoll_ctl(ev->epfd, EPOLL_CTL_DEL, s->fd, NULL))
			return -errno;
		s->next_paused = ev->paused;
		ev->paused = s;
	}
	s->resume_ns = resume_ns ? resume_ns : 1;
	return 0;
}

int tita_event_accept(struct tita_event *ev, struct tita_event_source *s, struct sockaddr *addr,
		      socklen_t *addr_len, uint64_t pause_ns, bool *ret_paused)
{
	int fd = accept4(s->fd, addr, addr_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int e = errno;

	*ret_paused = false;
	if (fd < 0 && (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)) {
		*ret_paused = tita_event_fd_pause(ev, s, ev->now_ns + pause_ns) == 0;
		errno = e;
	}
	return fd;
}

/* Watch again the sources whose pause is over. */
static void resume_due(struct tita_event *ev)
{
	struct tita_event_source *s = ev->paused, *next;

	for (; s; s = next) {
		struct epoll_event e = { .events = s->events, .data.ptr = s };

		next = s->next_paused;
		if (s->resume_ns > ev->now_ns)
			continue;
		unpause(ev, s);
		/* Cannot fail for a descriptor that was registered before. */
		epoll_ctl(ev->epfd, EPOLL_CTL_ADD, s->fd, &e);
	}
}

void tita_event_fd_del(struct tita_event *ev, struct tita_event_source *s)
{
	if (!s || s->dead)
		return;
	if (s->resume_ns)
		unpause(ev, s);
	else
		epoll_ctl(ev->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	s->dead = true;
	s->next_dead = ev->dead;
	ev->dead = s;
}

struct tita_timer *tita_event_timer_new(struct tita_event *ev, tita_event_timer_fn fn, void *data)
{
	struct tita_timer *t;

	if (ev->n_timers >= MAX_TIMERS) {
		errno = ENOSPC;
		return NULL;
	}
	t = &ev->timers[ev->n_timers++];
	t->deadline_ns = UINT64_MAX;
	t->fn = fn;
	t->data = data;
	return t;
}

void tita_event_timer_set(struct tita_event *ev, struct tita_timer *t, uint64_t deadline_ns)
{
	(void)ev;
	t->deadline_ns = deadline_ns;
}

uint64_t tita_event_timer_deadline(const struct tita_timer *t)
{
	return t->deadline_ns;
}

int tita_event_signals(struct tita_event *ev, const int *signos, int n, tita_event_signal_fn fn,
		       void *data)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &ev->signal_src };
	sigset_t set;

	sigemptyset(&set);
	for (int i = 0; i < n; i++)
		sigaddset(&set, signos[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	ev->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (ev->sigfd < 0)
		return -errno;
	ev->signal_src.fd = ev->sigfd;
	ev->sig_fn = fn;
	ev->sig_data = data;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->sigfd, &e))
		return -errno;
	return 0;
}

void tita_event_set_period(struct tita_event *ev, uint64_t period_ns)
{
	if (period_ns == ev->period_ns)
		return;
	ev->period_ns = period_ns;
	/* No deadline is ever this: the next pass re-arms with the new interval. */
	ev->armed_ns = UINT64_MAX - 1;
}

void tita_event_exit(struct tita_event *ev, int code)
{
	ev->exiting = true;
	ev->exit_code = code;
}

uint64_t tita_event_now(const struct tita_event *ev)
{
	return ev->now_ns;
}

uint64_t tita_event_real_ns(struct tita_event *ev)
{
	if (!ev->real_ns)
		ev->real_ns = tita_clock_real_ns();
	return ev->real_ns;
}

uint64_t tita_event_elapsed_ns(const struct tita_event *ev)
{
	uint64_t t;

	if (ev->fake)
		return 0;
	t = tita_clock_mono_ns();
	return t > ev->now_ns ? t - ev->now_ns : 0;
}

void tita_event_update_now(struct tita_event *ev)
{
	ev->now_ns = tita_clock_mono_ns();
	ev->real_ns = 0;
}

static void run_timers(struct tita_event *ev)
{
	resume_due(ev);
	/* A timer callback may re-arm any timer; each fires at most once per
	 * pass so that a deadline in the past cannot starve the sockets. */
	for (uint32_t i = 0; i < ev->n_timers && !ev->exiting; i++) {
		struct tita_timer *t = &ev->timers[i];

		if (t->deadline_ns <= ev->now_ns) {
			t->deadline_ns = UINT64_MAX;
			t->fn(t->data, ev->now_ns);
		}
	}
}

static int arm(struct tita_event *ev)
{
	uint64_t next = UINT64_MAX;
	struct itimerspec its = { 0 };

	for (uint32_t i = 0; i < ev->n_timers; i++)
		if (ev->timers[i].deadline_ns < next)
			next = ev->timers[i].deadline_ns;
	for (const struct tita_event_source *s = ev->paused; s; s = s->next_paused)
		if (s->resume_ns < next)
			next = s->resume_ns;
	if (next == ev->armed_ns)
		return 0;
	if (next != UINT64_MAX) {
		/* 0 would disarm the timerfd: a deadline already due fires at 1 ns. */
		uint64_t at = next ? next : 1;

		its.it_value.tv_sec = (time_t)(at / 1000000000ull);
		its.it_value.tv_nsec = (long)(at % 1000000000ull);
		/* Periodic: the next expiry is then usually the next deadline
		 * already (see tita_event_set_period). */
		its.it_interval.tv_sec = (time_t)(ev->period_ns / 1000000000ull);
		its.it_interval.tv_nsec = (long)(ev->period_ns % 1000000000ull);
	}
	if (timerfd_settime(ev->tfd, TFD_TIMER_ABSTIME, &its, NULL))
		return -errno;
	ev->armed_ns = next;
	return 0;
}

/* Hand out one epoll batch, then the timers due. */
static int dispatch(struct tita_event *ev, const struct epoll_event *events, int n)
{
	for (int i = 0; i < n && !ev->exiting; i++) {
		struct tita_event_source *s = events[i].data.ptr;

		if (s->dead)
			continue;
		if (s == &ev->timer_src) {
			uint64_t expirations;

			if (read(ev->tfd, &expirations, sizeof(expirations)) < 0) {
				if (errno != EAGAIN)
					return -errno;
				expirations = 0; /* a stale wake-up */
			}
			if (!ev->period_ns)
				ev->armed_ns = UINT64_MAX;
			else if (ev->armed_ns != UINT64_MAX)
				ev->armed_ns += expirations * ev->period_ns;
		} else if (s == &ev->signal_src) {
			struct signalfd_siginfo si;

			while (read(ev->sigfd, &si, sizeof(si)) == sizeof(si))
				ev->sig_fn(ev->sig_data, (int)si.ssi_signo, ev->now_ns);
		} else {
			s->fn(s->data, s->fd, events[i].events, ev->now_ns);
		}
	}
	run_timers(ev);
	reap(ev);
	return 0;
}

int tita_event_dispatch(struct tita_event *ev, uint64_t now_ns, uint64_t real_ns, int timeout_ms)
{
	struct epoll_event events[BATCH];
	int n, r;

	n = epoll_wait(ev->epfd, events, BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	ev->now_ns = now_ns;
	ev->real_ns = real_ns;
	ev->fake = true;
	r = dispatch(ev, events, n);
	return r ? r : n;
}

int tita_event_run(struct tita_event *ev)
{
	struct epoll_event events[BATCH];

	while (!ev->exiting) {
		int n, r;

		r = arm(ev);
		if (r)
			return r;
		n = epoll_wait(ev->epfd, events, BATCH, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		tita_event_update_now(ev);
		ev->fake = false;
		r = dispatch(ev, events, n);
		if (r)
			return r;
	}
	return ev->exit_code;
}
