// SPDX-License-Identifier: MIT
/*
 * The control protocol's framing over a real SOCK_SEQPACKET pair: one
 * message per packet, sizes checked both ways, malformed and oversized
 * frames refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctlproto.h"

static int sv[2];

static int setup(void **state)
{
	(void)state;
	return socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
}

static int teardown(void **state)
{
	(void)state;
	close(sv[0]);
	close(sv[1]);
	return 0;
}

static void test_round_trip(void **state)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__JobSetRequest js = TITA__CONTROL__JOB_SET_REQUEST__INIT;
	Tita__Control__Request *got;
	uint8_t buf[TITA_CTL_REQUEST_MAX];
	ssize_t n;

	(void)state;
	js.name = (char *)"train";
	js.weight_present_case = TITA__CONTROL__JOB_SET_REQUEST__WEIGHT_PRESENT_WEIGHT;
	js.weight = 2.5;
	js.max_present_case = TITA__CONTROL__JOB_SET_REQUEST__MAX_PRESENT_MAX_BPS;
	js.max_bps = 25000000000ull;
	rq.id = 42;
	rq.body_case = TITA__CONTROL__REQUEST__BODY_JOB_SET;
	rq.job_set = &js;
	assert_int_equal(tita_ctl_send(sv[0], &rq.base, TITA_CTL_REQUEST_MAX), 0);
	n = tita_ctl_recv(sv[1], buf, sizeof(buf));
	assert_true(n > 0);
	got = tita_ctl_request_unpack(buf, (size_t)n);
	assert_non_null(got);
	assert_true(got->id == 42);
	assert_int_equal(got->body_case, TITA__CONTROL__REQUEST__BODY_JOB_SET);
	assert_string_equal(got->job_set->name, "train");
	assert_int_equal(got->job_set->weight_present_case,
			 TITA__CONTROL__JOB_SET_REQUEST__WEIGHT_PRESENT_WEIGHT);
	assert_true(got->job_set->weight == 2.5);
	assert_int_equal(got->job_set->min_present_case,
			 TITA__CONTROL__JOB_SET_REQUEST__MIN_PRESENT__NOT_SET);
	assert_true(got->job_set->max_bps == 25000000000ull);
	tita__control__request__free_unpacked(got, NULL);
}

static void test_empty_request(void **state)
{
	/* A Request with only defaults packs to zero bytes: it still is one
	 * packet, and it decodes to a Request with no body. */
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__Request *got;
	uint8_t buf[64];
	ssize_t n;

	(void)state;
	assert_int_equal(tita_ctl_send(sv[0], &rq.base, TITA_CTL_REQUEST_MAX), 0);
	n = tita_ctl_recv(sv[1], buf, sizeof(buf));
	assert_int_equal(n, 0);
	got = tita_ctl_request_unpack(buf, 0);
	assert_non_null(got);
	assert_int_equal(got->body_case, TITA__CONTROL__REQUEST__BODY__NOT_SET);
	tita__control__request__free_unpacked(got, NULL);
}

static void test_oversized(void **state)
{
	Tita__Control__Request rq = TITA__CONTROL__REQUEST__INIT;
	Tita__Control__JobShowRequest js = TITA__CONTROL__JOB_SHOW_REQUEST__INIT;
	char *big = malloc(TITA_CTL_REQUEST_MAX + 10);
	uint8_t *packed, buf[TITA_CTL_REQUEST_MAX];
	ssize_t n;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', TITA_CTL_REQUEST_MAX + 9);
	big[TITA_CTL_REQUEST_MAX + 9] = '\0';
	js.name = big;
	rq.body_case = TITA__CONTROL__REQUEST__BODY_JOB_SHOW;
	rq.job_show = &js;
	/* The sender refuses to send it... */
	assert_int_equal(tita_ctl_send(sv[0], &rq.base, TITA_CTL_REQUEST_MAX), -EMSGSIZE);
	assert_int_equal(tita_ctl_pack(&rq.base, TITA_CTL_REQUEST_MAX, &packed), -EMSGSIZE);
	/* ...and a receiver that gets one anyway says so, then reads on. */
	n = tita_ctl_pack(&rq.base, 2 * TITA_CTL_REQUEST_MAX, &packed);
	assert_true(n > TITA_CTL_REQUEST_MAX);
	assert_int_equal(send(sv[0], packed, (size_t)n, 0), n);
	assert_int_equal(tita_ctl_recv(sv[1], buf, sizeof(buf)), -EMSGSIZE);
	assert_null(tita_ctl_request_unpack(packed, (size_t)n));
	free(packed);
	assert_int_equal(send(sv[0], "\x08\x01", 2, 0), 2);
	assert_int_equal(tita_ctl_recv(sv[1], buf, sizeof(buf)), 2);
	free(big);
}

static void test_malformed(void **state)
{
	static const uint8_t junk[][8] = {
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, /* varint that never ends */
		{ 0x52, 0x05, 0x00, 0x00 }, /* field 10 claims 5 bytes, has 2 */
		{ 0x0f, 0x00 }, /* wire type 7 */
	};
	static const size_t lens[] = { 8, 4, 2 };

	(void)state;
	for (size_t i = 0; i < 3; i++)
		assert_null(tita_ctl_request_unpack(junk[i], lens[i]));
	assert_null(tita_ctl_request_unpack(NULL, 0));
	assert_null(tita_ctl_response_unpack(junk[0], 8));
}

static void test_end_of_stream(void **state)
{
	uint8_t buf[16];
	int pair[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair), 0);
	close(pair[0]);
	assert_int_equal(tita_ctl_recv(pair[1], buf, sizeof(buf)), 0);
	close(pair[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_empty_request),
		cmocka_unit_test(test_oversized),     cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_end_of_stream),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
