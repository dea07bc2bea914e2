// SPDX-License-Identifier: GPL-2.0
/*
 * ncat ADDR PORT: what libreswan's ikev2-tcp-08-fail-eof does with nmap's
 * ncat, for 51-libreswan-tcp.sh: connects over TCP, sends stdin, shuts
 * its side down at stdin's end, and copies what comes back to stdout
 * until the peer closes. An error ends it as ncat does ("Ncat: Connection
 * reset by peer.", exit 1); a peer silent for TIMEOUT seconds (default
 * 30, environment NCAT_TIMEOUT) ends it with exit 2, so that nothing
 * hangs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "Ncat: %s%s%s.\n", what ? what : "", what ? ": " : "",
		strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	const char *t = getenv("NCAT_TIMEOUT");
	int timeout = t ? atoi(t) : 30;
	int fd, in_open = 1;
	socklen_t len;
	char buf[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: ncat ADDR PORT\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[1], &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(atoi(argv[2]));
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, argv[1], &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(atoi(argv[2]));
		len = sizeof(*sin6);
	} else {
		fprintf(stderr, "ncat: %s is not an address\n", argv[1]);
		return 2;
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0)
		return fail(NULL);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = 0, .events = POLLIN },
		};
		int n = poll(p, in_open ? 2 : 1, timeout * 1000);
		ssize_t r;

		if (n < 0)
			return fail("poll");
		if (n == 0) {
			fprintf(stderr, "ncat: nothing from the peer for %d s\n", timeout);
			return 2;
		}
		if (in_open && p[1].revents) {
			r = read(0, buf, sizeof(buf));
			if (r <= 0) {
				in_open = 0;
				/*
				 * A peer that reset the connection already:
				 * the read says so, as ncat does
				 */
				if (shutdown(fd, SHUT_WR) < 0 &&
				    errno != ENOTCONN)
					return fail(NULL);
			} else if (write(fd, buf, r) != r) {
				return fail(NULL);
			}
		}
		if (p[0].revents) {
			r = read(fd, buf, sizeof(buf));
			if (r < 0)
				return fail(NULL);
			if (r == 0)
				return 0;
			if (write(1, buf, r) != r)
				return 1;
		}
	}
}
