// SPDX-License-Identifier: MIT
/*
 * stderr logging with journald priorities; see log.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "event.h"
#include "log.h"

static enum titad_log_level max_level = TITAD_LOG_INFO;
static bool journal;

/* The global limit: tokens in thousandths of a line. */
static const struct tita_event *clock_ev;
static uint64_t tokens_milli = TITA_LOG_BURST * 1000ull;
static uint64_t refilled_ns;
static uint64_t held, held_total;

void tita_log_set_clock(const struct tita_event *ev)
{
	clock_ev = ev;
	refilled_ns = ev ? tita_event_now(ev) : 0;
}

static bool take_token(void)
{
	uint64_t now_ns;

	if (!clock_ev)
		return true;
	now_ns = tita_event_now(clock_ev);
	if (now_ns < refilled_ns) /* another clock (a test's): start from it */
		refilled_ns = now_ns;
	if (now_ns > refilled_ns) {
		uint64_t add = (now_ns - refilled_ns) / (1000000ull / TITA_LOG_PER_SEC);

		if (add) {
			tokens_milli += add;
			if (tokens_milli > TITA_LOG_BURST * 1000ull)
				tokens_milli = TITA_LOG_BURST * 1000ull;
			refilled_ns = now_ns;
		}
	}
	if (tokens_milli < 1000)
		return false;
	tokens_milli -= 1000;
	return true;
}

static void emit(enum titad_log_level level, const char *line)
{
	if (journal)
		fprintf(stderr, "<%d>%s\n", (int)level, line);
	else
		fprintf(stderr, "titad: %s: %s\n", titad_log_level_name(level), line);
}

/* The count of what was held back, when a line may be written. */
static void say_held(void)
{
	char line[160];

	if (!held)
		return;
	snprintf(line, sizeof(line),
		 "%llu log lines suppressed (titad writes at most %d at once and %d a second)",
		 (unsigned long long)held, TITA_LOG_BURST, TITA_LOG_PER_SEC);
	held = 0;
	emit(TITAD_LOG_WARNING, line);
}

void tita_log_flush(void)
{
	if (held && take_token())
		say_held();
}

uint64_t tita_log_suppressed_total(void)
{
	return held_total;
}

void tita_log_setup(enum titad_log_level level)
{
	max_level = level;
	journal = getenv("JOURNAL_STREAM") != NULL;
}

void tita_log_set_level(enum titad_log_level level)
{
	max_level = level;
}

bool tita_log_enabled(enum titad_log_level level)
{
	return level <= max_level;
}

/* Whether a line of this level may be written now: its level is on, and
 * the global bucket has a token (else it is counted as held back). */
static bool admit(enum titad_log_level level)
{
	if (level > max_level)
		return false;
	/* The count of what was held back takes a line of the budget too. */
	if (held && take_token())
		say_held();
	if (!take_token()) {
		held++;
		held_total++;
		return false;
	}
	return true;
}

/* MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and up to this many fields. */
#define LOG_FIELDS_MAX 16

static void vlog(enum titad_log_level level, const struct tita_log_field *fields, size_t n_fields,
		 const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void vlog(enum titad_log_level level, const struct tita_log_field *fields, size_t n_fields,
		 const char *fmt, va_list ap)
{
	char line[1024], msg[1040], prio[16], kv[LOG_FIELDS_MAX][160];
	struct iovec iov[3 + LOG_FIELDS_MAX];
	size_t n = 0;

	if (!admit(level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (!journal || !n_fields) {
		emit(level, line);
		return;
	}
	snprintf(msg, sizeof(msg), "MESSAGE=%s", line);
	snprintf(prio, sizeof(prio), "PRIORITY=%d", (int)level);
	iov[n++] = (struct iovec){ msg, strlen(msg) };
	iov[n++] = (struct iovec){ prio, strlen(prio) };
	iov[n++] = (struct iovec){ (char *)"SYSLOG_IDENTIFIER=titad",
				   strlen("SYSLOG_IDENTIFIER=titad") };
	for (size_t i = 0; i < n_fields && i < LOG_FIELDS_MAX; i++) {
		/* A value with a newline would need the binary form: cut it. */
		int len = snprintf(kv[i], sizeof(kv[i]), "%s=%.*s", fields[i].key,
				   (int)strcspn(fields[i].value, "\n"), fields[i].value);

		if (len < 0)
			continue;
		iov[n++] = (struct iovec){ kv[i], strlen(kv[i]) };
	}
	if (sd_journal_sendv(iov, (int)n) < 0)
		emit(level, line);
}

void tita_log(enum titad_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void tita_log_fields(enum titad_log_level level, const struct tita_log_field *fields,
		     size_t n_fields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fields, n_fields, fmt, ap);
	va_end(ap);
}

bool tita_ratelimit_ok(struct tita_ratelimit *rl, uint64_t now_ns, uint64_t interval_ns,
		       uint32_t burst, uint64_t *ret_suppressed)
{
	if (now_ns - rl->window_start_ns >= interval_ns || rl->window_start_ns == 0) {
		rl->window_start_ns = now_ns ? now_ns : 1;
		rl->in_window = 0;
	}
	if (rl->in_window >= burst) {
		rl->suppressed++;
		return false;
	}
	rl->in_window++;
	*ret_suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}
