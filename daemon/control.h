/*
 * control — the control socket (see control.c for the protocol). Runs on
 * the main thread's loop.
 */
#pragma once
#include <stdbool.h>
#include <uv.h>

struct daemon_ctx;

struct control {
	uv_pipe_t server;
	char path[108]; /* sun_path */
	bool open, bound;
};

/* Listens on `path` (none when empty). A failure is logged and returned;
 * holdfast runs on without a control socket. */
int control_start(struct control *ctl, uv_loop_t *loop, struct daemon_ctx *ctx, const char *path);
/* Closes the socket and removes its file; run the loop afterwards. */
void control_stop(struct control *ctl);
