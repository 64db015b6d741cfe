/*
 * sockaddr — the few things every module does with an IPv4/IPv6 socket
 * address: its length, its port, equality, and one printable form. No
 * sockets are opened here; AF_INET and AF_INET6 only (anything else has
 * length 0, port 0 and equals nothing).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "2001:db8::1@53" / "192.0.2.1@53": Unbound's ADDR@PORT, also the config syntax. */
#define UTIL_SOCKADDR_STRLEN 64

/* sizeof(sockaddr_in) or sizeof(sockaddr_in6); 0 for another family. */
size_t util_sockaddr_len(const struct sockaddr *sa);
/* Host byte order; 0 for another family. */
uint16_t util_sockaddr_port(const struct sockaddr *sa);
void util_sockaddr_set_port(struct sockaddr_storage *ss, uint16_t port);
/* Same family, address and port (a link-local scope is the socket's business). */
bool util_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b);
/* ADDR@PORT into `buf` (cap >= UTIL_SOCKADDR_STRLEN to never truncate); returns buf. */
const char *util_sockaddr_str(const struct sockaddr *sa, char *buf, size_t cap);
