/*
 * holdfast-ctl — the control client: sends one command to the control
 * socket and prints the answer. `holdfast-ctl [-s PATH] stats|upstream|flush|help`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/holdfast.sock"

static int usage(FILE *out)
{
	fprintf(out,
		"Usage: holdfast-ctl [-s SOCKET] stats|upstream|flush|help\n"
		"Talks to a running holdfast through its control socket (default %s).\n",
		DEFAULT_SOCKET);
	return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_SOCKET;
	int i = 1;
	if (i < argc && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0))
		return usage(stdout);
	if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
		path = argv[i + 1];
		i += 2;
	}
	if (i + 1 != argc)
		return usage(stderr);
	const char *cmd = argv[i];

	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "holdfast-ctl: socket path too long: %s\n", path);
		return 2;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "holdfast-ctl: cannot connect to %s: %s\n", path, strerror(errno));
		return 1;
	}
	char line[300];
	int n = snprintf(line, sizeof(line), "%s\n", cmd);
	if (n < 0 || (size_t)n >= sizeof(line) || write(fd, line, (size_t)n) != n) {
		fprintf(stderr, "holdfast-ctl: cannot send the command\n");
		close(fd);
		return 1;
	}
	char buf[4096];
	ssize_t r;
	int status = 0;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		if (fwrite(buf, 1, (size_t)r, stdout) != (size_t)r)
			status = 1;
		if (strncmp(buf, "error:", 6) == 0)
			status = 1;
	}
	close(fd);
	return r < 0 ? 1 : status;
}
