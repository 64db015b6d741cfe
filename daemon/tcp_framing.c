/*
 * tcp_framing — splits a TCP byte stream into length-prefixed DNS messages
 * (tcp_framing.h). One frame at a time, so the caller can stop between
 * messages (a connection closing, a pipelining cap). It does not look
 * inside a message, buffer bytes or know about connections.
 */
#include <errno.h>

#include "daemon/tcp_framing.h"

int tcp_framing_next(const uint8_t *buf, size_t len, size_t *msg_len)
{
	if (len < TCP_FRAMING_PREFIX)
		return 0;
	size_t mlen = (size_t)buf[0] << 8 | buf[1];
	if (mlen == 0)
		return -EBADMSG;
	if (len - TCP_FRAMING_PREFIX < mlen)
		return 0;
	*msg_len = mlen;
	return 1;
}
