/* SPDX-License-Identifier: MIT */
/*
 * Framing of the control protocol (proto/control.proto) on titad's AF_UNIX
 * SOCK_SEQPACKET socket: one protobuf message per packet, length-checked
 * both ways. Shared by titad's control.c and titactl.
 */
#ifndef TITAD_CTLPROTO_H
#define TITAD_CTLPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control.pb-c.h"

/* A Request is a few dozen bytes; anything near this is not a client. */
#define TITA_CTL_REQUEST_MAX 4096
/* control.proto: a Response stays under 1 MiB (the pair list is paged). */
#define TITA_CTL_RESPONSE_MAX (1024 * 1024)
/* Pairs in one page of PairsResponse: well under the limit above. */
#define TITA_CTL_PAIRS_PAGE 2048

#define TITA_CTL_SOCKET_DEFAULT "/run/tita/control.sock"

/* Pack m into a fresh buffer of at most max bytes. The length, or -EMSGSIZE
 * (too large), -ENOMEM; *ret_buf is malloc'ed. */
ssize_t tita_ctl_pack(const ProtobufCMessage *m, size_t max, uint8_t **ret_buf);

/* Send one message as one packet. 0 or -errno (-EMSGSIZE above max). */
int tita_ctl_send(int fd, const ProtobufCMessage *m, size_t max);

/* Receive one packet into buf: its length, 0 for end of stream, -EMSGSIZE
 * when the packet was larger than size (its rest is discarded), -errno. */
ssize_t tita_ctl_recv(int fd, void *buf, size_t size);

/* Unpack with the size checked first; NULL when empty, too large or
 * malformed. Free with the matching __free_unpacked(m, NULL). */
Tita__Control__Request *tita_ctl_request_unpack(const void *buf, size_t len);
Tita__Control__Response *tita_ctl_response_unpack(const void *buf, size_t len);

#endif /* TITAD_CTLPROTO_H */
