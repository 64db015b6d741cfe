/*
 * msg_builder — a tiny writer of DNS messages byte by byte for the dns
 * unit tests, so that a test can build exactly the malformed message it
 * means (ldns refuses to build most of them). Test-only; aborts on
 * overflow instead of returning errors.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct msg {
	uint8_t b[70000];
	size_t len;
};

static inline void msg_u8(struct msg *m, uint8_t v)
{
	if (m->len + 1 > sizeof(m->b))
		abort();
	m->b[m->len++] = v;
}

static inline void msg_u16(struct msg *m, uint16_t v)
{
	msg_u8(m, (uint8_t)(v >> 8));
	msg_u8(m, (uint8_t)v);
}

static inline void msg_u32(struct msg *m, uint32_t v)
{
	msg_u16(m, (uint16_t)(v >> 16));
	msg_u16(m, (uint16_t)v);
}

static inline void msg_bytes(struct msg *m, const void *p, size_t n)
{
	if (m->len + n > sizeof(m->b))
		abort();
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static inline void msg_header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
			      uint16_t ns, uint16_t ar)
{
	m->len = 0;
	msg_u16(m, id);
	msg_u16(m, flags);
	msg_u16(m, qd);
	msg_u16(m, an);
	msg_u16(m, ns);
	msg_u16(m, ar);
}

/* "www.example.com" or "." (no escapes), uncompressed. */
static inline void msg_name(struct msg *m, const char *name)
{
	while (*name && strcmp(name, ".") != 0) {
		const char *dot = strchr(name, '.');
		size_t n = dot ? (size_t)(dot - name) : strlen(name);

		msg_u8(m, (uint8_t)n);
		msg_bytes(m, name, n);
		name += n;
		if (*name == '.')
			name++;
	}
	msg_u8(m, 0);
}

static inline void msg_question(struct msg *m, const char *name, uint16_t type, uint16_t cls)
{
	msg_name(m, name);
	msg_u16(m, type);
	msg_u16(m, cls);
}

/* An OPT record (RFC 6891 §6.1.2) with `rdlen` bytes of options. */
static inline void msg_opt(struct msg *m, uint16_t udp, uint8_t ext_rcode, uint8_t version,
			   bool do_bit, const void *rdata, uint16_t rdlen)
{
	msg_u8(m, 0);
	msg_u16(m, 41);
	msg_u16(m, udp);
	msg_u8(m, ext_rcode);
	msg_u8(m, version);
	msg_u16(m, do_bit ? 0x8000 : 0);
	msg_u16(m, rdlen);
	if (rdlen)
		msg_bytes(m, rdata, rdlen);
}
