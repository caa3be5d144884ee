/* A libFuzzer target's seed corpus replayed without libFuzzer, so that the target can be built
 * by the compiler that builds libwring for its users (gcc) and run in the unit suite: clang,
 * which the fuzz build needs, evaluates a call's arguments left to right and so never showed
 * the AVX-512 UTF-8 bug that gcc's right-to-left order did (tests/meson.build).
 *
 * Usage: replay_fuzz_NAME PATH...  Every regular file of every directory given (in name
 * order, not recursively), or the file itself, is passed once to LLVMFuzzerTestOneInput in a
 * buffer of exactly its size, so that ASan reports a read past the input. Prints TAP, one case:
 * "ok 1 - NAME corpus replay (K inputs)". A target reports a finding by aborting, or a
 * sanitizer ends the process: "not ok" naming the input is printed on the way out (signal
 * handler, sanitizer death callback, atexit), and the process still dies or exits non-zero,
 * so the test fails by its exit status as well as by its TAP line. No input at all, or a path
 * that cannot be read, is a failure too. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_ASAN 1
#endif
#endif
#ifdef REPLAY_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#ifndef REPLAY_NAME
#define REPLAY_NAME "fuzz target"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Written, in one write() and at most once, if the process ends inside the target: prepared
 * before each input. */
static char crash_line[4200];
static size_t crash_len;
static volatile sig_atomic_t in_target, reported;

static void report_crash(void)
{
	if (in_target && !reported) {
		reported = 1;
		ssize_t w = write(STDOUT_FILENO, crash_line, crash_len);
		(void)w;
	}
}

static void on_fatal(int sig)
{
	report_crash();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_fatal(void)
{
	static const int sigs[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP };
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	atexit(report_crash); /* a target that calls exit() */
#ifdef REPLAY_ASAN
	__sanitizer_set_death_callback(report_crash); /* reports end in _exit() unless abort_on_error */
#endif
}

/* The whole file in a malloc'd buffer of exactly its size (1 byte for an empty file). */
static uint8_t *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = NULL;
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && st.st_size >= 0) {
		size_t n = (size_t)st.st_size;
		buf = malloc(n ? n : 1);
		if (buf && fread(buf, 1, n, f) != n) {
			free(buf);
			buf = NULL;
		}
		*size = n;
	}
	fclose(f);
	return buf;
}

/* Runs one file; 0, or -1 with the reason printed as a TAP comment. */
static int run_file(const char *path)
{
	size_t n = 0;
	uint8_t *data = read_file(path, &n);
	if (!data) {
		printf("# cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	int len = snprintf(crash_line, sizeof(crash_line),
		"not ok 1 - %s corpus replay: failed on %s (%zu bytes)\n", REPLAY_NAME, path, n);
	crash_len = len < 0 ? 0 : (size_t)len < sizeof(crash_line) ? (size_t)len : sizeof(crash_line) - 1;
	fflush(stdout); /* nothing buffered may follow the crash line */
	in_target = 1;
	LLVMFuzzerTestOneInput(data, n);
	in_target = 0;
	free(data);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file directly in dir, in name order; adds to *count, -1 on an error. */
static int run_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("# cannot open %s: %s\n", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t m = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (m == cap) {
			cap = cap ? cap * 2 : 64;
			char **grown = realloc(names, cap * sizeof(*names));
			if (!grown)
				abort();
			names = grown;
		}
		size_t l = strlen(dir) + 1 + strlen(e->d_name) + 1;
		names[m] = malloc(l);
		if (!names[m])
			abort();
		snprintf(names[m], l, "%s/%s", dir, e->d_name);
		m++;
	}
	closedir(d);
	qsort(names, m, sizeof(*names), by_name);
	for (size_t i = 0; i < m; i++) {
		struct stat st;
		if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(names[i]) == 0)
				(*count)++;
			else
				rc = -1;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	catch_fatal();
	printf("1..1\n");
	size_t count = 0;
	int rc = argc > 1 ? 0 : -1;
	if (argc <= 1)
		printf("# usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
	for (int i = 1; i < argc && rc == 0; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			printf("# cannot open %s: %s\n", argv[i], strerror(errno));
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			rc = run_dir(argv[i], &count);
		} else if (run_file(argv[i]) == 0) {
			count++;
		} else {
			rc = -1;
		}
	}
	if (rc == 0 && count == 0) {
		printf("# no input in the corpus\n");
		rc = -1;
	}
	printf("%s 1 - %s corpus replay (%zu inputs)\n", rc == 0 ? "ok" : "not ok", REPLAY_NAME, count);
	return rc == 0 ? 0 : 1;
}
