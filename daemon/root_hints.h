/*
 * root_hints — where resolution starts: the built-in IANA root hints and a
 * reader for named.root-format files (`root-hints:` / `--root-hints`).
 * The reader keeps only what a resolver needs from hints (the root's NS
 * records and the A/AAAA of their targets) and refuses a file that cannot
 * start a resolution. No I/O beyond reading the file.
 */
#pragma once
#include <stdbool.h> /* before ldns, whose common.h defines bool otherwise */
#include <stddef.h>
#include <ldns/ldns.h>

/* The built-in hints as named.root master-file text. Static; never freed. */
const char *daemon_root_hints_builtin(void);

/*
 * Reads `path_or_null` (NULL = the built-in text) into a new list of class
 * IN records: every NS record owned by the root and every A/AAAA record whose
 * owner is the target of one of them; all other records are skipped. Fails
 * unless there is at least one root NS and one address for an NS target.
 * 0 with *out set (caller frees it with ldns_rr_list_deep_free), or -1 with
 * "FILE[:LINE]: what is wrong" in err and *out untouched.
 */
int daemon_root_hints_load(const char *path_or_null, ldns_rr_list **out, char *err, size_t errlen);
