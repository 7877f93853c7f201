/* hello: the smallest fixture program with a real Nix closure (itself and
 * glibc). */
#include <stdio.h>

int main(void)
{
	puts("hello from the nix store");
	return 0;
}
