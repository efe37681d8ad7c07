// SPDX-License-Identifier: MIT
/*
 * stderr logging with journald priorities; see log.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static enum titad_log_level max_level = TITAD_LOG_INFO;
static bool journal;

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

void tita_log(enum titad_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (journal)
		fprintf(stderr, "<%d>%s\n", (int)level, line);
	else
		fprintf(stderr, "titad: %s: %s\n", titad_log_level_name(level), line);
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
