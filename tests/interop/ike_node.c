// SPDX-License-Identifier: GPL-2.0
/*
 * One end of an espintcp connection, for tests between two machines: what
 * an IKE daemon does on its own host, and nothing more.
 *
 *   ike_node client LADDR LPORT RADDR RPORT COUNT
 *   ike_node server LADDR LPORT COUNT
 *
 * Both set the per-socket xfrm policy bypass; the client connects from
 * LADDR:LPORT (retrying for 60 s while nobody listens), writes "IKETCP" and
 * sets the ULP; the server accepts one connection on LADDR:LPORT, reads the
 * prefix and sets the ULP. Then COUNT IKE exchanges, byte-exact: request i
 * is an IKEv2 message of ike_size(i) bytes derived from i, and so is its
 * response (see fill()); each side checks what it receives. Then
 * both print "ready". The server then waits for a line on stdin (its host
 * has installed its ESP states) and sends one more message, on which the
 * client prints "peer-ready". The connection stays up: the client's until
 * its stdin closes, the server's until the client closes (recv() gives 0).
 * Exit status 0 only if every message was exact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../guest/lib/ike_sock.h"
#include "../guest/lib/prog.h"
#include "../guest/lib/sockaddr.h"


/* the server's last message says its ESP states are in place */
#define GO_MSG	1000
/* sizes from the smallest IKE message to one that spans many segments */
static size_t ike_size(int i)
{
	static const size_t sizes[] = { 36, 300, 1400, 1500, 4000, 9000, 65533 };

	return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
}

static void put32(unsigned char *p, unsigned int v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/*
 * Message i of @len bytes, as a real IKEv2 message, so that tshark can
 * check it too: the non-ESP marker, the IKE header (exchange INFORMATIONAL,
 * message ID i, request from the initiator or its response), and one
 * Vendor ID payload whose data is derived from i (inverted in responses).
 */
static void fill(unsigned char *m, size_t len, int i, int response)
{
	unsigned char *ike = m + 4, *vid = ike + 28;
	size_t k;

	memset(m, 0, 4 + 28);
	put32(ike, 0x1ce00000 + i);		/* initiator's SPI */
	put32(ike + 4, 0xc0ffee);
	put32(ike + 8, 0x2e500000 + i);		/* responder's SPI */
	put32(ike + 12, 0xbeef);
	ike[16] = 43;				/* next payload: Vendor ID */
	ike[17] = 0x20;				/* IKEv2 */
	ike[18] = 37;				/* INFORMATIONAL */
	ike[19] = response ? 0x20 : 0x08;	/* Response / Initiator */
	put32(ike + 20, i);
	put32(ike + 24, len - 4);
	vid[0] = 0;				/* no next payload */
	vid[1] = 0;
	vid[2] = (len - 4 - 28) >> 8;
	vid[3] = (len - 4 - 28) & 0xff;
	for (k = 4 + 28 + 4; k < len; k++)
		m[k] = (unsigned char)((k * 31 + i * 7 + 3) ^ (response ? 0xff : 0));
}

static int family_of(const char *addr)
{
	return strchr(addr, ':') ? AF_INET6 : AF_INET;
}

static int bound_socket(const char *addr, int port)
{
	struct sockaddr_storage ss;
	int family = family_of(addr);
	int fd = socket(family, SOCK_STREAM, 0), one = 1;
	socklen_t len = sockaddr_fill(family, addr, port, &ss);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ike_sock_bypass_or_die(fd, family);
	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind");
	return fd;
}

/* one message, within 20 s, exactly @len bytes equal to @want */
static void expect(int fd, const unsigned char *want, size_t len, int i)
{
	static unsigned char buf[65536];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 20000) != 1) {
		errno = ETIMEDOUT;
		die("waiting for a message");
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n != (ssize_t)len || memcmp(buf, want, len)) {
		fprintf(stderr, "ike_node: message %d: %zd bytes, want %zu%s\n",
			i, n, len, n == (ssize_t)len ? ", bytes differ" : "");
		exit(1);
	}
}

static void exchange(int fd, int count, int client)
{
	static unsigned char req[65536], resp[65536];
	int i;

	for (i = 0; i < count; i++) {
		size_t len = ike_size(i);

		fill(req, len, i, 0);
		fill(resp, len, i, 1);
		if (client) {
			if (send(fd, req, len, 0) != (ssize_t)len)
				die("send request");
			expect(fd, resp, len, i);
		} else {
			expect(fd, req, len, i);
			if (send(fd, resp, len, 0) != (ssize_t)len)
				die("send response");
		}
	}
	printf("ike %d exchanges exact\nready\n", count);
	fflush(stdout);
}

static int client(char **argv)
{
	unsigned char go[64];
	struct sockaddr_storage ss;
	const char *raddr = argv[4];
	socklen_t len = sockaddr_fill(family_of(raddr), raddr, atoi(argv[5]), &ss);
	char b;
	int fd, tries;

	for (tries = 0;; tries++) {
		fd = bound_socket(argv[2], atoi(argv[3]));
		if (!connect(fd, (struct sockaddr *)&ss, len))
			break;
		if (tries == 120)
			die("connect");
		close(fd);
		usleep(500000);
	}
	if (send(fd, "IKETCP", 6, 0) != 6)
		die("send IKETCP");
	ike_sock_ulp_or_die(fd);
	exchange(fd, atoi(argv[6]), 1);
	fill(go, ike_size(0), GO_MSG, 0);
	expect(fd, go, ike_size(0), GO_MSG);
	printf("peer-ready\n");
	while (read(0, &b, 1) > 0)
		;
	close(fd);
	return 0;
}

static int server(char **argv)
{
	unsigned char go[64];
	int l = bound_socket(argv[2], atoi(argv[3])), fd;
	char pfx[6];
	struct pollfd p;

	if (listen(l, 1))
		die("listen");
	fd = accept(l, NULL, NULL);
	if (fd < 0)
		die("accept");
	close(l);
	if (recv(fd, pfx, 6, MSG_WAITALL) != 6 || memcmp(pfx, "IKETCP", 6)) {
		errno = EPROTO;
		die("IKETCP prefix");
	}
	ike_sock_ulp_or_die(fd);
	exchange(fd, atoi(argv[4]), 0);
	fill(go, ike_size(0), GO_MSG, 0);
	if (read(0, pfx, 1) != 1 ||
	    send(fd, go, ike_size(0), 0) != (ssize_t)ike_size(0))
		die("sending peer-ready");
	p.fd = fd;
	p.events = POLLIN;
	while (poll(&p, 1, -1) == 1 && recv(fd, pfx, sizeof(pfx), 0) > 0)
		fprintf(stderr, "ike_node: unexpected message after the exchanges\n");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 7 && !strcmp(argv[1], "client"))
		return client(argv);
	if (argc == 5 && !strcmp(argv[1], "server"))
		return server(argv);
	fprintf(stderr, "usage: %s client LADDR LPORT RADDR RPORT COUNT\n"
		"       %s server LADDR LPORT COUNT\n", argv[0], argv[0]);
	return 2;
}
