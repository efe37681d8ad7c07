// SPDX-License-Identifier: MIT
/*
 * The key file: one bare key (as before rotation existed) or "ID KEY"
 * lines, every mistake with its file:line; and the checks on the file
 * itself (owner, mode, the sending key-id present).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "keys.h"

#define K1 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define K2 "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static int parse(const char *text, struct tita_wire_keyring *kr, char *err, size_t size)
{
	return titad_keys_parse("k", text, strlen(text), 7, kr, err, size);
}

static void test_formats(void **state)
{
	struct tita_wire_keyring kr;
	char err[256];

	(void)state;
	/* A bare key: the config's key-id; hex may be split, comments skipped. */
	assert_int_equal(parse("# the key\n" K1 "\n", &kr, err, sizeof(err)), 0);
	assert_int_equal(kr.n_keys, 1);
	assert_int_equal(kr.keys[0].id, 7);
	assert_int_equal(kr.keys[0].bytes[1], 0x11);
	tita_wire_keyring_clear(&kr);
	assert_int_equal(parse("0011223344556677 8899aabbccddeeff\n"
			       "00112233445566778899aabbccddeeff # x\n",
			       &kr, err, sizeof(err)),
			 0);
	assert_int_equal(kr.keys[0].bytes[31], 0xff);
	tita_wire_keyring_clear(&kr);
	/* A rotation's file: two ids. */
	assert_int_equal(
		parse("1 " K1 "\n\n# new\n2 " K2 "   # from 2024-06\n", &kr, err, sizeof(err)), 0);
	assert_int_equal(kr.n_keys, 2);
	assert_non_null(tita_wire_keyring_find(&kr, 1));
	assert_int_equal(tita_wire_keyring_find(&kr, 2)->bytes[0], 0xff);
	tita_wire_keyring_clear(&kr);
}

static const struct {
	const char *text, *error;
} bad[] = {
	{ "", "key file k: no key" },
	{ "# nothing\n", "key file k: no key" },
	{ K1 "00\n", "key file k:1: expected 64 hex digits, or 'ID KEY' lines" },
	{ "0011\n", "key file k: expected 64 hex digits, found 4" },
	{ "zz\n", "key file k:1: expected 64 hex digits, or 'ID KEY' lines" },
	{ "1 " K1 "\n1 " K2 "\n", "key file k:2: key id 1 appears twice" },
	{ "1 " K1 "\n2 00\n", "key file k:2: key 2: expected 64 hex digits" },
	{ "x " K1 "\n", "key file k:1: expected 64 hex digits, or 'ID KEY' lines" },
	{ "4294967296 " K1 "\n", "key file k:1: '4294967296' is not a key id (0..4294967295)" },
	{ "1 2 3\n", "key file k: expected 64 hex digits, found 3" },
	{ "1 2 3 4 5 6 7 8 9\n", "key file k:1: expected 'ID KEY' (a key id and 64 hex digits) "
				 "or hex digits alone" },
	{ K1 "\n2 " K2 "\n", "key file k:1: a bare key and 'ID KEY' lines (line 2) in one "
			     "file; give every key its id" },
	{ "1 " K1 "\n2 " K1 "\n3 " K1 "\n4 " K1 "\n5 " K1 "\n", "key file k:5: more than 4 keys" },
};

static void test_bad(void **state)
{
	struct tita_wire_keyring kr = { .n_keys = 99 };
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse(bad[i].text, &kr, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad[i].error);
		assert_int_equal(kr.n_keys, 99);
	}
}

/* The file: root's, mode 600, and the sending key-id in it. */
static void test_load(void **state)
{
	char dir[] = "/tmp/tita-keys.XXXXXX", path[64], err[512];
	struct tita_wire_keyring kr;
	struct titad_config cfg;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("1 " K1 "\n2 " K2 "\n", f);
	fclose(f);
	titad_config_defaults(&cfg);
	snprintf(cfg.path, sizeof(cfg.path), "t.conf");
	snprintf(cfg.key_file, sizeof(cfg.key_file), "%s", path);
	chmod(path, 0640);
	if (getuid() == 0) {
		assert_int_equal(titad_keys_load(&cfg, &kr, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "mode 0640 lets group or others"));
		chmod(path, 0600);
		cfg.key_id = 2;
		assert_int_equal(titad_keys_load(&cfg, &kr, err, sizeof(err)), 0);
		assert_int_equal(kr.n_keys, 2);
		tita_wire_keyring_clear(&kr);
		cfg.key_id = 3;
		assert_int_equal(titad_keys_load(&cfg, &kr, err, sizeof(err)), -ENOKEY);
		assert_non_null(strstr(err, "t.conf: key-id 3 is not in key file"));
		assert_non_null(strstr(err, "(it holds 1, 2)"));
	} else {
		chmod(path, 0600);
		assert_int_equal(titad_keys_load(&cfg, &kr, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "not root; chown root"));
	}
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
