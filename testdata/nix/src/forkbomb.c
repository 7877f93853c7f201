/* forkbomb [MAX]: fork up to MAX (default 4096) children that just wait,
 * then kill and reap them all. It is a bounded bomb, safe to run without a
 * pids limit. Prints "fork failed after N children: <reason>" and exits 1
 * when fork fails first (a pids cgroup limit), else "forked N children" and
 * exits 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long max = argc > 1 ? strtol(argv[1], NULL, 10) : 4096;
	pid_t *kids;
	long n = 0;
	int failed = 0, err = 0;

	if (max <= 0) {
		fprintf(stderr, "usage: forkbomb [MAX]\n");
		return 2;
	}
	kids = calloc(max, sizeof(*kids));
	if (kids == NULL)
		return 1;
	for (n = 0; n < max; n++) {
		pid_t pid = fork();
		if (pid < 0) {
			failed = 1;
			err = errno;
			break;
		}
		if (pid == 0) {
			for (;;)
				pause();
		}
		kids[n] = pid;
	}
	if (failed)
		printf("fork failed after %ld children: %s\n", n, strerror(err));
	else
		printf("forked %ld children\n", n);
	fflush(stdout);
	for (long i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (long i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	return failed;
}
