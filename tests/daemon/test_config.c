// SPDX-License-Identifier: MIT
/*
 * titad.conf: every key with a numeric range accepted at both ends and
 * refused just outside them, and a table of bad files with the exact
 * file:line error each must give.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

#define BASE "[port eth0]\nline-rate = 100G\n"

static int parse(const char *text, struct titad_config *cfg, char *err, size_t err_size)
{
	return titad_config_parse("t.conf", text, strlen(text), cfg, err, err_size);
}

static void test_defaults(void **state)
{
	struct tita_ctl_params def;
	struct titad_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse(BASE, &cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(cfg.n_ports, 1);
	assert_string_equal(cfg.ports[0].ifname, "eth0");
	assert_true(cfg.ports[0].line_rate_bps == 100000000000ull);
	tita_ctl_params_default(&def);
	assert_true(cfg.params.control_interval_ns == 1000000);
	/* Grant TTL and refresh keep the controller's ratios to the interval. */
	assert_true(cfg.params.grant_ttl_ns ==
		    def.grant_ttl_ns * 1000000 / def.control_interval_ns);
	assert_true(cfg.params.refresh_ns == def.refresh_ns * 1000000 / def.control_interval_ns);
	assert_int_equal(cfg.peer_port, 4792);
	assert_int_equal(cfg.pacer, TITAD_PACER_AUTO);
	assert_int_equal(cfg.control_mode, 0660);
	assert_string_equal(cfg.key_file, "/etc/tita/cluster.key");
	assert_true(cfg.health_interval_ns == 1000000000);
	assert_int_equal(cfg.health_pairs, 16);
	assert_int_equal(cfg.health_pause_priority, 3);
	assert_true(cfg.loss_count);
}

static void test_health(void **state)
{
	struct titad_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse(BASE "[health]\ninterval = 250ms\npairs = 4\npause-priority = 0\n",
			       &cfg, err, sizeof(err)),
			 0);
	assert_true(cfg.health_interval_ns == 250000000);
	assert_int_equal(cfg.health_pairs, 4);
	assert_int_equal(cfg.health_pause_priority, 0);
	assert_int_equal(parse(BASE "[health]\nspines = 2\n", &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.conf:4: unknown key 'spines' in [health]");
	assert_int_equal(parse(BASE "[health x]\n", &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.conf:3: [health] takes no name");
}

static void test_full(void **state)
{
	static const char text[] = "# a comment\n"
				   "[daemon]\n"
				   "log-level = debug\n"
				   "pacer = dry-run\n"
				   "control-socket = /run/x.sock\n"
				   "control-group = wheel\n"
				   "control-mode = 0666\n"
				   "metrics-listen = [::1]:9100\n"
				   "pin-root = /sys/fs/bpf/x\n"
				   "xdp-mode = generic\n"
				   "loss-count = off\n"
				   "[controller]\n"
				   "interval = 10ms ; inline comment\n"
				   "eta = 0.9\n"
				   "eta-min = 0.8\n"
				   "fail-open = line-rate\n"
				   "[peers]\n"
				   "port = 5000\n"
				   "bind = 10.0.0.1, fd00::1\n"
				   "static = 10.0.0.2 10.0.0.3\n"
				   "static = fd00::9\n"
				   "key-file = /etc/k\n"
				   "key-id = 7\n"
				   "wire-version = 1\n"
				   "[port eth0]\n"
				   "address = 10.0.0.1\n"
				   "line-rate = 400Gbit\n"
				   "[port eth1]\n"
				   "[job train]\n"
				   "dst = 10.1.0.0/16, fd00::/8\n"
				   "weight = 2.5\n"
				   "min = 1G\n"
				   "max = 25G\n";
	struct tita_ctl_params def;
	struct titad_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.log_level, TITAD_LOG_DEBUG);
	assert_int_equal(cfg.pacer, TITAD_PACER_DRY_RUN);
	assert_int_equal(cfg.control_mode, 0666);
	assert_string_equal(cfg.metrics_listen, "[::1]:9100");
	assert_int_equal(cfg.xdp_mode, TITAD_XDP_GENERIC);
	assert_true(cfg.params.control_interval_ns == 10000000);
	/* Unset timers follow the interval. */
	tita_ctl_params_default(&def);
	assert_true(cfg.params.grant_ttl_ns ==
		    def.grant_ttl_ns * 10000000 / def.control_interval_ns);
	assert_true(cfg.params.refresh_ns == def.refresh_ns * 10000000 / def.control_interval_ns);
	assert_int_equal(cfg.fail_open, TITAD_FAIL_OPEN_LINE_RATE);
	assert_false(cfg.loss_count);
	assert_int_equal(cfg.n_bind, 2);
	assert_int_equal(cfg.n_static, 3);
	assert_int_equal(cfg.key_id, 7);
	assert_int_equal(cfg.wire_version, 1);
	assert_int_equal(cfg.n_ports, 2);
	assert_true(cfg.ports[0].addr_set);
	assert_true(cfg.ports[1].line_rate_bps == 0); /* detected at start */
	assert_int_equal(cfg.n_jobs, 1);
	assert_int_equal(cfg.jobs[0].weight_milli, 2500);
	assert_int_equal(cfg.jobs[0].n_dst, 2);
	assert_true(cfg.jobs[0].min_bps == 1000000000ull);
	assert_true(cfg.jobs[0].max_bps == 25000000000ull);
}

/* A config with one key set: [section] key = value, plus a port. */
static int parse_one(const char *section, const char *key, const char *value, char *err,
		     size_t err_size)
{
	struct titad_config cfg;
	char text[512];

	if (!strncmp(section, "port ", 5))
		snprintf(text, sizeof(text), "[port eth0]\n%s = %s\n", key, value);
	else
		snprintf(text, sizeof(text), BASE "[%s]\n%s = %s\n", section, key, value);
	return parse(text, &cfg, err, err_size);
}

static void test_ranges(void **state)
{
	const struct titad_config_range *r;
	size_t n;
	char err[256];

	(void)state;
	r = titad_config_ranges(&n);
	assert_true(n >= 15);
	for (size_t i = 0; i < n; i++) {
		if (parse_one(r[i].section, r[i].key, r[i].min, err, sizeof(err)))
			fail_msg("[%s] %s = %s refused: %s", r[i].section, r[i].key, r[i].min, err);
		if (parse_one(r[i].section, r[i].key, r[i].max, err, sizeof(err)))
			fail_msg("[%s] %s = %s refused: %s", r[i].section, r[i].key, r[i].max, err);
		if (r[i].below_min &&
		    !parse_one(r[i].section, r[i].key, r[i].below_min, err, sizeof(err)))
			fail_msg("[%s] %s = %s accepted", r[i].section, r[i].key, r[i].below_min);
		if (r[i].above_max &&
		    !parse_one(r[i].section, r[i].key, r[i].above_max, err, sizeof(err)))
			fail_msg("[%s] %s = %s accepted", r[i].section, r[i].key, r[i].above_max);
		/* The error names the key's line. */
		if (r[i].above_max) {
			const char *want = !strncmp(r[i].section, "port ", 5) ? "t.conf:2: " :
										"t.conf:4: ";

			if (strncmp(err, want, strlen(want)))
				fail_msg("[%s] %s: error '%s' does not start with '%s'",
					 r[i].section, r[i].key, err, want);
		}
	}
}

static const struct {
	const char *text;
	const char *error;
} bad_files[] = {
	{ "key = 1\n" BASE, "t.conf:1: 'key' outside of any section" },
	{ BASE "[frob]\n", "t.conf:3: unknown section [frob]" },
	{ BASE "[daemon x]\n", "t.conf:3: [daemon] takes no name" },
	{ BASE "[daemon]\nfrob = 1\n", "t.conf:4: unknown key 'frob' in [daemon]" },
	{ BASE "[daemon\n",
	  "t.conf:3: syntax error: expected [section], key = value, or a comment" },
	{ BASE "just words\n",
	  "t.conf:3: syntax error: expected [section], key = value, or a comment" },
	{ BASE "[daemon]\nlog-level = loud\n",
	  "t.conf:4: log-level: 'loud' is not one of err, warning, notice, info, debug" },
	{ BASE "[daemon]\npacer = verbs\n",
	  "t.conf:4: pacer: 'verbs' is not one of tc, dry-run, qp, dcb, auto" },
	{ BASE "[daemon]\ncontrol-socket = run/x\n",
	  "t.conf:4: control-socket: 'run/x' is not an absolute path" },
	{ BASE "[daemon]\ncontrol-mode = 0999\n",
	  "t.conf:4: control-mode: '0999' is out of range (octal 0..0777)" },
	{ BASE "[daemon]\nmetrics-listen = 9100\n",
	  "t.conf:4: metrics-listen: '9100' is not host:port, [v6]:port or off" },
	{ BASE "[daemon]\nxdp-mode = fast\n",
	  "t.conf:4: xdp-mode: 'fast' is not one of auto, native, generic, off" },
	{ BASE "[daemon]\nloss-count = yes\n",
	  "t.conf:4: loss-count: 'yes' is not one of on, off" },
	{ BASE "[controller]\ninterval = 1\n",
	  "t.conf:4: interval: '1' is not a duration (e.g. 1ms, 500us, 2s)" },
	{ BASE "[controller]\ninterval = 0ms\n",
	  "t.conf:4: interval: '0ms' is out of range (1us..10s)" },
	{ BASE "[controller]\ninterval = 10ms\ngrant-ttl = 15ms\n",
	  "t.conf:5: grant-ttl: must be at least twice the control interval" },
	{ BASE "[controller]\ngrant-ttl = 15ms\ninterval = 10ms\n",
	  "t.conf:4: grant-ttl: must be at least twice the control interval" },
	{ BASE "[controller]\ngrant-ttl = 10ms\nrefresh = 20ms\n",
	  "t.conf:5: refresh: must be at least the control interval and below the grant TTL" },
	{ BASE "[controller]\nrefresh = 500us\n",
	  "t.conf:4: refresh: must be at least the control interval and below the grant TTL" },
	{ BASE "[controller]\neta = 0.5\neta-min = 0.6\n",
	  "t.conf:5: eta-min: must not be above eta" },
	{ BASE "[controller]\neta-min = 0.6\neta = 0.5\n",
	  "t.conf:4: eta-min: must not be above eta" },
	{ BASE "[controller]\ngrant-ttl = 61s\n",
	  "t.conf:4: grant-ttl: '61s' is out of range (2us..60s)" },
	{ BASE "[controller]\nmax-pairs = 0\n",
	  "t.conf:4: max-pairs: '0' is out of range (1..16777216)" },
	{ BASE "[controller]\neta = nan\n", "t.conf:4: eta: 'nan' is not a number" },
	{ BASE "[controller]\neta = 0x1p-1\n", "t.conf:4: eta: '0x1p-1' is not a number" },
	{ BASE "[controller]\nfail-open = never\n",
	  "t.conf:4: fail-open: 'never' is not one of remove, line-rate" },
	{ BASE "[peers]\nport = http\n", "t.conf:4: port: 'http' is not a whole number" },
	{ BASE "[peers]\nwire-version = 3\n",
	  "t.conf:4: wire-version: '3' is not one of auto, 1, 2" },
	{ BASE "[peers]\nbind = 10.0.0\n", "t.conf:4: bind: '10.0.0' is not an IP address" },
	{ BASE "[peers]\nstatic = host.example\n",
	  "t.conf:4: static: 'host.example' is not an IP address" },
	{ BASE "[peers]\nkey-id = -1\n", "t.conf:4: key-id: '-1' is not a whole number" },
	{ BASE "[port eth0]\n", "t.conf:3: [port eth0] appears twice (first at line 1)" },
	{ "[port a/b]\n", "t.conf:1: [port a/b]: not a network device name" },
	{ "[port averyveryverylongname]\n",
	  "t.conf:1: [port averyveryverylongname]: not a network device name" },
	{ "[port eth0]\naddress = 10.0.0.256\n",
	  "t.conf:2: address: '10.0.0.256' is not an IP address" },
	{ "[port eth0]\nline-rate = 100GB\n",
	  "t.conf:2: line-rate: '100GB' is not a rate (e.g. 100G, 400Mbit, 3.2T)" },
	{ "[port eth0]\nline-rate = 0\n",
	  "t.conf:2: line-rate: '0' is out of range (1bit..3.2T, or auto)" },
	{ "[port eth0]\neta = 0.9\n[port eth1]\neta = 0.8\n",
	  "t.conf:3: [port eth1]: eta differs from another port's; the controller has one eta "
	  "for all ports" },
	{ BASE "[job a b]\n",
	  "t.conf:3: [job a b]: a job name is 1..63 letters, digits, '_', '-' or '.'" },
	{ BASE "[job default]\n",
	  "t.conf:3: [job default]: the default job has no selector; set its policy with titactl" },
	{ BASE "[job x]\n[job x]\n", "t.conf:4: [job x] appears twice (first at line 3)" },
	{ BASE "[job x]\ndst = 10.0.0.0/33\n",
	  "t.conf:4: dst: '10.0.0.0/33' is not an address or prefix (e.g. 10.0.0.0/24)" },
	{ BASE "[job x]\nweight = 0\n", "t.conf:4: weight: '0' is out of range (0.001..1000)" },
	{ BASE "[job x]\nmin = 10G\nmax = 1G\n", "t.conf:3: [job x]: min is above max" },
};

/* Every [controller] key of lib's parameter table has its bounds walked by
 * test_ranges, and every key there is one of lib's (or titad's own
 * fail-open). */
static void test_controller_keys_are_lib_params(void **state)
{
	const struct titad_config_range *r;
	size_t n, n_params;
	const struct tita_param *t = tita_ctl_param_table(&n_params);

	(void)state;
	r = titad_config_ranges(&n);
	for (size_t i = 0; i < n_params; i++) {
		bool found = false;

		if (!t[i].conf_key)
			continue;
		for (size_t j = 0; j < n; j++)
			found |= !strcmp(r[j].section, "controller") &&
				 !strcmp(r[j].key, t[i].conf_key);
		if (!found)
			fail_msg("[controller] %s has no range test", t[i].conf_key);
	}
	for (size_t j = 0; j < n; j++) {
		bool found = false;

		if (strcmp(r[j].section, "controller"))
			continue;
		for (size_t i = 0; i < n_params; i++)
			found |= t[i].conf_key && !strcmp(r[j].key, t[i].conf_key);
		if (!found)
			fail_msg("[controller] %s is not in lib's parameter table", r[j].key);
	}
}

/* A key lib's table has but titad does not expose is refused. */
static void test_unexposed_param_refused(void **state)
{
	char err[256];

	(void)state;
	assert_int_not_equal(parse_one("controller", "churn_frac", "0.1", err, sizeof(err)), 0);
	assert_string_equal(err, "t.conf:4: unknown key 'churn_frac' in [controller]");
}

static void test_bad_files(void **state)
{
	struct titad_config cfg;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		memset(err, 0, sizeof(err));
		if (!parse(bad_files[i].text, &cfg, err, sizeof(err)))
			fail_msg("bad file %zu accepted:\n%s", i, bad_files[i].text);
		if (strcmp(err, bad_files[i].error))
			fail_msg("bad file %zu:\n got '%s'\nwant '%s'", i, err, bad_files[i].error);
	}
}

/* Finding 11 (and issue 16): every problem in one go, in the file's
 * order, one per line; only the first was said before. */
static void test_every_problem(void **state)
{
	static const char text[] = "[daemon]\n"
				   "pacer = verbs\n"
				   "frob = 1\n"
				   "[controller]\n"
				   "interval = 10ms\n"
				   "grant-ttl = 15ms\n"
				   "just words\n"
				   "[port eth0]\n"
				   "line-rate = 100GB\n"
				   "[job x]\n"
				   "min = 10G\n"
				   "max = 1G\n";
	struct titad_config cfg;
	char err[2048];

	(void)state;
	assert_int_not_equal(parse(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(err,
			    "t.conf:2: pacer: 'verbs' is not one of tc, dry-run, qp, dcb, auto\n"
			    "t.conf:3: unknown key 'frob' in [daemon]\n"
			    "t.conf:6: grant-ttl: must be at least twice the control interval\n"
			    "t.conf:7: syntax error: expected [section], key = value, or a "
			    "comment\n"
			    "t.conf:9: line-rate: '100GB' is not a rate (e.g. 100G, 400Mbit, "
			    "3.2T)\n"
			    "t.conf:10: [job x]: min is above max");
}

static void test_long_and_nul(void **state)
{
	struct titad_config cfg;
	char text[600], err[256];

	(void)state;
	snprintf(text, sizeof(text), BASE "[daemon]\ncontrol-group = %0300d\n", 1);
	assert_int_not_equal(parse(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "t.conf:4: line longer than 190 characters");
	memcpy(text, BASE "[daemon]\n\0x = 1\n", sizeof(BASE) + 15);
	assert_int_not_equal(
		titad_config_parse("t.conf", text, sizeof(BASE) + 14, &cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "t.conf:4: NUL byte in the file");
}

static void test_untouched_on_error(void **state)
{
	struct titad_config cfg;
	char err[256];

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_not_equal(parse(BASE "[daemon]\nfrob = 1\n", &cfg, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cfg); i++)
		assert_int_equal(((unsigned char *)&cfg)[i], 0xa5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_every_problem),
		cmocka_unit_test(test_long_and_nul),
		cmocka_unit_test(test_untouched_on_error),
		cmocka_unit_test(test_controller_keys_are_lib_params),
		cmocka_unit_test(test_unexposed_param_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
