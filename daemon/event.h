/* SPDX-License-Identifier: MIT */
/*
 * titad's event loop: epoll over file descriptors, one timerfd for every
 * timer (armed at the earliest deadline, absolute CLOCK_MONOTONIC), and a
 * signalfd. Every callback runs on the loop's thread; nothing else waits.
 *
 * The loop is the only part of titad that reads a clock: once when a
 * batch of events starts, and the time goes to every callback of the batch
 * as now_ns (chrony's SCH_GetLastEventTime, picoquic's current_time). A
 * module that needs a time takes it as an argument, so the daemon's
 * modules run in tests on a fake clock (tita_event_dispatch()).
 */
#ifndef TITAD_EVENT_H
#define TITAD_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

struct tita_event;
struct tita_event_source;
struct tita_timer;

typedef void (*tita_event_fd_fn)(void *data, int fd, uint32_t events, uint64_t now_ns);
typedef void (*tita_event_timer_fn)(void *data, uint64_t now_ns);
typedef void (*tita_event_signal_fn)(void *data, int signo, uint64_t now_ns);

/* NULL with errno. */
struct tita_event *tita_event_new(void);
struct tita_event *tita_event_free(struct tita_event *ev);

/* Watch fd for events (EPOLLIN, ...). NULL with errno. The source stays
 * valid until tita_event_fd_del(), which may be called from any callback,
 * including its own. */
struct tita_event_source *tita_event_fd_add(struct tita_event *ev, int fd, uint32_t events,
					    tita_event_fd_fn fn, void *data);
int tita_event_fd_mod(struct tita_event *ev, struct tita_event_source *s, uint32_t events);
void tita_event_fd_del(struct tita_event *ev, struct tita_event_source *s);
/* Stop watching s until resume_ns, then watch it again with the events it
 * had: for a listening socket whose accept() fails for want of
 * descriptors (EMFILE), which would otherwise wake the loop at once, again
 * and again. 0 or -errno. */
int tita_event_fd_pause(struct tita_event *ev, struct tita_event_source *s, uint64_t resume_ns);

/*
 * accept4() on listening socket s (non-blocking, close-on-exec): the new
 * descriptor, or -1 with errno. When it fails for want of descriptors or
 * memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) the connection stays queued and
 * the socket readable: s is paused for pause_ns (tita_event_fd_pause())
 * and *ret_paused set, instead of waking the loop again at once.
 */
int tita_event_accept(struct tita_event *ev, struct tita_event_source *s, struct sockaddr *addr,
		      socklen_t *addr_len, uint64_t pause_ns, bool *ret_paused);

/* A timer that fires once at its deadline; re-arm it from its callback. */
struct tita_timer *tita_event_timer_new(struct tita_event *ev, tita_event_timer_fn fn, void *data);
/* deadline_ns on CLOCK_MONOTONIC; UINT64_MAX disarms. */
void tita_event_timer_set(struct tita_event *ev, struct tita_timer *t, uint64_t deadline_ns);
uint64_t tita_event_timer_deadline(const struct tita_timer *t);

/* The cadence of the loop's most frequent timer, as a hint: the timerfd
 * is armed periodic with it, so a timer re-armed one period after its last
 * deadline costs no system call. 0 (the default): one-shot arming. */
void tita_event_set_period(struct tita_event *ev, uint64_t period_ns);

/* Block these signals and deliver them through fn. 0 or -errno. */
int tita_event_signals(struct tita_event *ev, const int *signos, int n, tita_event_signal_fn fn,
		       void *data);

/* Run until tita_event_exit(); returns its code, or -errno on a loop failure. */
int tita_event_run(struct tita_event *ev);
void tita_event_exit(struct tita_event *ev, int code);

/*
 * One batch at a given time, for tests on a fake clock: wait up to
 * timeout_ms for file descriptors, hand every callback now_ns, run the
 * timers due at now_ns.
 * tita_event_real_ns() answers real_ns in this batch. Returns the number
 * of fd events dispatched, or -errno.
 */
int tita_event_dispatch(struct tita_event *ev, uint64_t now_ns, uint64_t real_ns, int timeout_ms);

/* The time at which the current batch of callbacks started (monotonic). */
uint64_t tita_event_now(const struct tita_event *ev);
/* CLOCK_REALTIME in this batch, read at most once per batch: for the boot
 * id's bounds and the kernel's wall-clock receive timestamps. */
uint64_t tita_event_real_ns(struct tita_event *ev);
/* Outside any batch (start-up, before the loop runs): read the clocks now. */
void tita_event_update_now(struct tita_event *ev);
/*
 * Instrumentation only, never for a decision: how long the current batch
 * has run so far (a fresh clock read; 0 under tita_event_dispatch()). The
 * histograms of the control pass and of the demand-to-grant time use it,
 * so that they measure what the batch did up to the event they time.
 */
uint64_t tita_event_elapsed_ns(const struct tita_event *ev);

#endif /* TITAD_EVENT_H */
