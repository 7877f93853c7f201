/* memhog MIB: allocate MIB mebibytes (default 200) 1 MiB at a time and
 * touch every page, so a memory cgroup limit is hit for real. Exits 0 after
 * printing "memhog: allocated N MiB"; a cgroup OOM kill gives 137. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 200;
	long i;

	if (mib <= 0) {
		fprintf(stderr, "usage: memhog MIB\n");
		return 2;
	}
	for (i = 1; i <= mib; i++) {
		char *p = malloc(1 << 20);
		if (p == NULL) {
			fprintf(stderr, "memhog: malloc failed after %ld MiB\n", i - 1);
			return 1;
		}
		memset(p, 0xa5, 1 << 20);
		if (i % 16 == 0) {
			printf("memhog: %ld MiB\n", i);
			fflush(stdout);
		}
	}
	printf("memhog: allocated %ld MiB\n", mib);
	return 0;
}
