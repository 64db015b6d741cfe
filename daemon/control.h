/*
 * control — the control socket (see control.c for the protocol). Runs on
 * the main thread's loop.
 *
 * Threads: everything here runs on the main thread, which main.c registers
 * for the cache's RCU and keeps offline while its loop waits. A command
 * that walks the cache (flush) brings the thread online for the walk and
 * takes it offline again before returning, so the caller of
 * control_respond() must be registered and offline (as main.c's thread is,
 * and the unit test's).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct daemon_ctx;

/* A command line, its newline included; a longer one is refused. */
#define CONTROL_LINE_MAX 256
/* Control clients served at once; a connection beyond them is closed at once. */
#define CONTROL_CLIENTS_MAX 8
/* A client's whole life, connect to close: one that sends nothing, half a
 * line, or does not read its answer is closed after this. */
#define CONTROL_CLIENT_TIMEOUT_MS 5000

enum control_cmd {
	CONTROL_CMD_UNKNOWN = 0,
	CONTROL_CMD_STATS,
	CONTROL_CMD_UPSTREAM,
	CONTROL_CMD_FLUSH,
	CONTROL_CMD_HELP,
};

/* One parsed command line. */
struct control_line {
	enum control_cmd cmd;
	/* The line without its newline and trailing CR/spaces, NUL-terminated,
	 * every byte outside printable ASCII replaced by '?': safe to echo. */
	char word[CONTROL_LINE_MAX];
	size_t consumed; /* bytes of the buffer the line took, newline included */
};

/*
 * The command reader, a pure function over the bytes received so far:
 * 1 and `out` filled when `buf` holds a whole line; 0 when more bytes are
 * needed; -EMSGSIZE when the first CONTROL_LINE_MAX bytes hold no newline.
 */
int control_parse_line(const char *buf, size_t len, struct control_line *out);

struct control_client;

struct control {
	uv_pipe_t server;
	struct daemon_ctx *ctx;
	char path[108]; /* sun_path */
	bool open, bound;
	struct control_client *clients; /* the ones being served, a list */
	unsigned nclients;
	bool refusing; /* the cap was hit and logged; cleared when a client leaves */
	/* Limits hit (main thread only; shown by `stats`). */
	uint64_t refused, timeouts, too_long;
};

/*
 * The answer to one command: malloc'd text (the caller frees it), its
 * length in *len; NULL on allocation failure. `ctl->ctx` is only read for
 * stats, upstream and flush. See the thread rule at the top.
 */
char *control_respond(struct control *ctl, const struct control_line *line, size_t *len);

/* Listens on `path` (none when empty). A failure is logged and returned;
 * holdfast runs on without a control socket. */
int control_start(struct control *ctl, uv_loop_t *loop, struct daemon_ctx *ctx, const char *path);
/* Closes the socket and every client and removes its file; run the loop
 * afterwards. */
void control_stop(struct control *ctl);
