// SPDX-License-Identifier: GPL-2.0
/*
 * An unprivileged user racing a module load: as uid/gid 65534 (so that
 * setsockopt cannot autoload the module itself), set the espintcp ULP on
 * fresh TCP sockets for SECONDS, or until STOPFILE exists, and count the
 * outcomes.
 *
 *   ulp_race SECONDS [STOPFILE]	prints "ready", then at the end
 *					"ok N eagain N enoent N other N"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/ike_sock.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long ok = 0, eagain = 0, enoent = 0, other = 0;
	double end;

	const char *stop = argc == 3 ? argv[2] : NULL;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: ulp_race SECONDS [STOPFILE]\n");
		return 2;
	}
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) {
		perror("dropping privileges");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	end = now() + atof(argv[1]);
	while (now() < end && !(stop && !access(stop, F_OK))) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0) {
			perror("socket");
			return 1;
		}
		if (!ike_sock_ulp(fd))
			ok++;
		else if (errno == EAGAIN)
			eagain++;
		else if (errno == ENOENT)
			enoent++;
		else
			other++;
		close(fd);
	}
	printf("ok %ld eagain %ld enoent %ld other %ld\n", ok, eagain, enoent,
	       other);
	return 0;
}
