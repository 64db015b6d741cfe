/*
 * replay_main — runs a libFuzzer harness once on every input file, so that
 * the normal build (no libFuzzer, any compiler) replays the seed corpora
 * and every crash ever found. Arguments are files or directories (not
 * walked recursively). It does not fuzz or mutate anything; a harness that
 * finds a broken invariant aborts, and the test fails.
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 0, or -1 when the file cannot be read (reported on stderr). */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	int ret = -1;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *nbuf = realloc(buf, ncap);

			if (!nbuf) {
				fprintf(stderr, "replay: %s: out of memory\n", path);
				goto out_close;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		goto out_close;
	}
	/* An exact-size copy lets ASan catch a read one byte past the input. */
	{
		uint8_t *exact = malloc(len ? len : 1);

		if (!exact) {
			fprintf(stderr, "replay: %s: out of memory\n", path);
			goto out_close;
		}
		memcpy(exact, buf, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	ret = 0;
out_close:
	free(buf);
	(void)fclose(f); /* read-only: nothing buffered to lose */
	return ret;
}

static int replay_dir(const char *path, unsigned *count)
{
	DIR *dir = opendir(path);
	struct dirent *ent;
	int ret = 0;

	if (!dir) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((ent = readdir(dir))) {
		char file[4096];
		struct stat st;

		if (ent->d_name[0] == '.')
			continue;
		if (snprintf(file, sizeof(file), "%s/%s", path, ent->d_name) >= (int)sizeof(file))
			continue;
		if (stat(file, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(file) < 0)
			ret = -1;
		else
			(*count)++;
	}
	closedir(dir);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			ret = -1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) < 0)
				ret = -1;
		} else if (replay_file(argv[i]) < 0) {
			ret = -1;
		} else {
			count++;
		}
	}
	printf("replayed %u inputs\n", count);
	/* An empty corpus proves nothing: treat it as a failure. */
	return ret == 0 && count > 0 ? 0 : 1;
}
