// SPDX-License-Identifier: MIT
/*
 * Control-protocol framing; see ctlproto.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "ctlproto.h"

ssize_t tita_ctl_pack(const ProtobufCMessage *m, size_t max, uint8_t **ret_buf)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf;

	if (n > max)
		return -EMSGSIZE;
	buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(m, buf);
	*ret_buf = buf;
	return (ssize_t)n;
}

int tita_ctl_send(int fd, const ProtobufCMessage *m, size_t max)
{
	uint8_t *buf;
	ssize_t n = tita_ctl_pack(m, max, &buf);
	int r = 0;

	if (n < 0)
		return (int)n;
	/* An empty message (a Request with only defaults) still needs a
	 * packet: SOCK_SEQPACKET carries zero-length records. */
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
		r = errno ? -errno : -EIO;
	free(buf);
	return r;
}

ssize_t tita_ctl_recv(int fd, void *buf, size_t size)
{
	ssize_t n;

	do
		n = recv(fd, buf, size, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n > size)
		return -EMSGSIZE;
	return n;
}

Tita__Control__Request *tita_ctl_request_unpack(const void *buf, size_t len)
{
	if (!buf || len > TITA_CTL_REQUEST_MAX)
		return NULL;
	return tita__control__request__unpack(NULL, len, buf);
}

Tita__Control__Response *tita_ctl_response_unpack(const void *buf, size_t len)
{
	if (!buf || len > TITA_CTL_RESPONSE_MAX)
		return NULL;
	return tita__control__response__unpack(NULL, len, buf);
}
