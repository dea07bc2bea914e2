// SPDX-License-Identifier: GPL-2.0
/*
 * Runs a command as an unprivileged user, for the guest, whose busybox has
 * no su or setpriv that switches users and whose /etc/passwd has only root:
 *
 *   run_as UID CMD [ARG...]	no supplementary groups, gid = uid = UID
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	uid_t id;

	if (argc < 3) {
		fprintf(stderr, "usage: %s UID CMD [ARG...]\n", argv[0]);
		return 2;
	}
	id = atoi(argv[1]);
	if (setgroups(0, NULL) || setgid(id) || setuid(id)) {
		perror("run_as");
		return 1;
	}
	execvp(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
