/*
 * fuzz_control_line — libFuzzer harness for the control socket's command
 * reader, control_parse_line() (daemon/control.c), and the answers that
 * echo a client's bytes (help, unknown commands) from control_respond().
 * The socket is owner-only, but its reader must still never read past what
 * was received, whatever a local process sends.
 *
 * Input: the bytes a client sent, in one read.
 *
 * Invariants: never reads outside the input (ASan); the result is 1, 0 or
 * -EMSGSIZE, and exactly: 1 when a newline is in the first
 * CONTROL_LINE_MAX bytes, 0 when there is none and fewer bytes came,
 * -EMSGSIZE otherwise; a line consumes up to and including its first
 * newline; the echoed word is printable ASCII, shorter than the line, and
 * the command is the one a plain comparison of the stripped line names.
 * Every prefix of the input parses consistently with the whole (a reader
 * fed byte by byte sees the same command). The answer is NUL-terminated
 * text of the length returned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control.h"
#include "fuzz/fuzz_check.h"

/* The command a stripped line names, the simple way. */
static enum control_cmd reference_cmd(const uint8_t *line, size_t l)
{
	static const char *const names[] = {
		[CONTROL_CMD_STATS] = "stats",
		[CONTROL_CMD_UPSTREAM] = "upstream",
		[CONTROL_CMD_FLUSH] = "flush",
		[CONTROL_CMD_HELP] = "help",
	};
	for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == l && memcmp(line, names[i], l) == 0)
			return (enum control_cmd)i;
	return CONTROL_CMD_UNKNOWN;
}

static int parse_copy(const uint8_t *data, size_t size, struct control_line *line)
{
	/* An exact-size copy, so ASan sees any read past the bytes received. */
	char *buf = calloc(size ? size : 1, 1);
	int r;

	CHECK(buf);
	if (size)
		memcpy(buf, data, size);
	r = control_parse_line(buf, size, line);
	free(buf);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_line line, pre;
	size_t scan = size < CONTROL_LINE_MAX ? size : CONTROL_LINE_MAX;
	const uint8_t *nl = memchr(data, '\n', scan);
	int r = parse_copy(data, size, &line);

	if (!nl) {
		CHECK(r == (size >= CONTROL_LINE_MAX ? -EMSGSIZE : 0));
		return 0;
	}
	CHECK(r == 1);
	CHECK(line.consumed == (size_t)(nl - data) + 1);
	size_t l = (size_t)(nl - data);
	while (l > 0 && (data[l - 1] == '\r' || data[l - 1] == ' '))
		l--;
	CHECK(strlen(line.word) == l);
	CHECK(l < line.consumed);
	for (size_t i = 0; i < l; i++) {
		unsigned char c = (unsigned char)line.word[i];
		CHECK(c >= 0x20 && c < 0x7f);
		CHECK(c == data[i] || c == '?');
	}
	CHECK(line.cmd == reference_cmd(data, l));

	/* Byte by byte: nothing before the newline, then the same line. */
	for (size_t n = 0; n < line.consumed; n++)
		CHECK(parse_copy(data, n, &pre) == 0);
	CHECK(parse_copy(data, line.consumed, &pre) == 1);
	CHECK(pre.cmd == line.cmd && pre.consumed == line.consumed);
	CHECK(strcmp(pre.word, line.word) == 0);

	/* The answers that need no daemon context. */
	if (line.cmd == CONTROL_CMD_HELP || line.cmd == CONTROL_CMD_UNKNOWN) {
		struct control ctl;
		size_t len = 0;
		char *out;

		memset(&ctl, 0, sizeof(ctl));
		out = control_respond(&ctl, &line, &len);
		CHECK(out);
		CHECK(strlen(out) == len);
		if (line.cmd == CONTROL_CMD_UNKNOWN)
			CHECK(strncmp(out, "error: ", 7) == 0 && strstr(out, line.word));
		free(out);
	}
	return 0;
}
