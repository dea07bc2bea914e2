// SPDX-License-Identifier: GPL-2.0
/*
 * Sends UDP datagrams from whatever netns and user it runs in:
 *
 *   udp_blast 4|6 DST PORT COUNT SIZE PREFIX [OUTQ_FILE]
 *	COUNT datagrams of SIZE bytes (at least 4) to DST:PORT, each the
 *	32-bit PREFIX (e.g. an SPI, 0xc01) in network order, then
 *	"udp_blast" and 'x' padding; prints "sent N" (the sends that
 *	succeeded). With OUTQ_FILE, the sends do not wait for write memory
 *	(what holds the datagrams is to fill up, and under asynchronous
 *	crypto a sender that waited would be woken only once half its send
 *	buffer is free); then it keeps the socket open until stdin closes and
 *	writes its SIOCOUTQ (the memory its datagrams still hold) to
 *	OUTQ_FILE every 50 ms.
 *
 * UDP_BLAST_SPORT=N binds the socket to port N first (a TCP connection's
 * own port, to pass for its ESP). A failed send prints its errno once:
 * "error ERRNO_NAME" (e.g. EPERM where a netfilter hook dropped it).
 */
#define _GNU_SOURCE
#include <linux/sockios.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/sockaddr.h"

static void write_outq(int fd, const char *file)
{
	char tmp[256];
	FILE *f;
	int n;

	if (ioctl(fd, SIOCOUTQ, &n))
		n = -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%d\n", n);
	fclose(f);
	rename(tmp, file);
}

int main(int argc, char **argv)
{
	static char buf[65536];
	struct sockaddr_storage ss;
	int family, count, size, i, fd, sent = 0, err = 0;
	const char *sport = getenv("UDP_BLAST_SPORT");
	uint32_t prefix;
	socklen_t len;

	if (argc < 7) {
		fprintf(stderr,
			"usage: %s 4|6 DST PORT COUNT SIZE PREFIX [OUTQ_FILE]\n",
			argv[0]);
		return 2;
	}
	family = atoi(argv[1]) == 6 ? AF_INET6 : AF_INET;
	count = atoi(argv[4]);
	size = atoi(argv[5]);
	if (size < 4 || size > (int)sizeof(buf))
		size = 4;
	prefix = htonl(strtoul(argv[6], NULL, 0));
	memset(buf, 'x', size);
	memcpy(buf, &prefix, 4);
	memcpy(buf + 4, "udp_blast", size - 4 < 9 ? size - 4 : 9);

	len = sockaddr_fill(family, argv[2], atoi(argv[3]), &ss);
	fd = socket(family, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (sport) {
		struct sockaddr_storage any;
		socklen_t alen = sockaddr_fill(family, family == AF_INET6 ?
					       "::" : "0.0.0.0", atoi(sport),
					       &any);

		if (bind(fd, (struct sockaddr *)&any, alen)) {
			perror("bind");
			return 1;
		}
	}
	for (i = 0; i < count; i++) {
		if (sendto(fd, buf, size, argc >= 8 ? MSG_DONTWAIT : 0,
			   (struct sockaddr *)&ss, len) == size)
			sent++;
		else if (!err)
			err = errno;
	}
	printf("sent %d\n", sent);
	if (err)
		printf("error %s\n", err == EPERM ? "EPERM" : strerror(err));
	fflush(stdout);

	if (argc >= 8) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		char c;

		for (;;) {
			write_outq(fd, argv[7]);
			if (poll(&p, 1, 50) == 1 && read(0, &c, 1) <= 0)
				break;
		}
	}
	close(fd);
	return 0;
}
