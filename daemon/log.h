/* SPDX-License-Identifier: MIT */
/*
 * titad's log: one line per event on stderr, with a syslog priority prefix
 * ("<4>") when stderr is the journal (JOURNAL_STREAM), so journald keeps
 * the levels. Callers log once, at the boundary, naming the object.
 *
 * Whatever the callers do, the log as a whole writes at most
 * TITA_LOG_BURST lines at once and TITA_LOG_PER_SEC a second after that
 * (a token bucket on the event loop's clock): a flood of bad input from
 * many sources, each within its own per-source limit, cannot fill the
 * journal or stall the loop on a slow one. What is held back is counted
 * and said in one line ("... N log lines suppressed") when lines may flow
 * again.
 */
#ifndef TITAD_LOG_H
#define TITAD_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define TITA_LOG_BURST 100
#define TITA_LOG_PER_SEC 10

struct tita_event;

void tita_log_setup(enum titad_log_level max_level);
/* The clock of the global rate limit (NULL: none, every line is written,
 * as before the loop exists). */
void tita_log_set_clock(const struct tita_event *ev);
/* Say how many lines were suppressed, if any and the bucket allows
 * (housekeeping calls it, so the count is said even when nothing else
 * is logged). */
void tita_log_flush(void);
/* Lines held back by the global limit since the start. */
uint64_t tita_log_suppressed_total(void);
void tita_log_set_level(enum titad_log_level max_level);
bool tita_log_enabled(enum titad_log_level level);
void tita_log(enum titad_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A line with structured fields: under journald it goes to the journal
 * natively, with PRIORITY and each field (TITA_PEER=10.0.0.2, TITA_PORT,
 * TITA_JOB, TITA_EVENT; a key may repeat), so that `journalctl -o json`
 * or `journalctl TITA_PEER=10.0.0.2` can filter; elsewhere, or if the
 * journal refuses it, the text alone on stderr as tita_log() writes it.
 * The same global rate limit holds. Keys: A-Z, 0-9 and '_'.
 */
struct tita_log_field {
	const char *key, *value;
};

void tita_log_fields(enum titad_log_level level, const struct tita_log_field *fields,
		     size_t n_fields, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_err(...) tita_log(TITAD_LOG_ERR, __VA_ARGS__)
#define log_warning(...) tita_log(TITAD_LOG_WARNING, __VA_ARGS__)
#define log_notice(...) tita_log(TITAD_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) tita_log(TITAD_LOG_INFO, __VA_ARGS__)
#define log_debug(...) tita_log(TITAD_LOG_DEBUG, __VA_ARGS__)

/*
 * A token bucket for one noisy source: at most `burst` lines per
 * `interval_ns`; what is held back is counted and reported with the next
 * line that passes.
 */
struct tita_ratelimit {
	uint64_t window_start_ns;
	uint32_t in_window;
	uint64_t suppressed;
};

/* true: log now (then *ret_suppressed says how many were held back since). */
bool tita_ratelimit_ok(struct tita_ratelimit *rl, uint64_t now_ns, uint64_t interval_ns,
		       uint32_t burst, uint64_t *ret_suppressed);

#endif /* TITAD_LOG_H */
