// SPDX-License-Identifier: GPL-2.0
/*
 * IKE over one TCP connection through the espintcp ULP (RFC 8229), as an
 * IKE daemon would do it, between the netns "cli" and "srv" of
 * tests/guest/lib/netns.sh. Run by tests/guest/demo.sh (make run).
 *
 * One process: it creates the listener inside srv, the client socket inside
 * cli (a socket stays in the netns it was created in), and then plays both
 * sides. Each message is the 4-byte non-ESP marker followed by a fake IKE
 * header and payload; one send() is one message and one recv() one message.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/ike_sock.h"
#include "lib/prog.h"


#define PORT 4500
#define SRV_ADDR "10.0.1.2"

static void show_ulp(const char *who, int fd)
{
	char name[16] = "";
	socklen_t len = sizeof(name);

	if (getsockopt(fd, SOL_TCP, TCP_ULP, name, &len) < 0)
		die("getsockopt(TCP_ULP)");
	printf("%s: getsockopt(TCP_ULP) = \"%s\"\n", who, name);
}

static void set_ulp(const char *who, int fd)
{
	if (ike_sock_ulp(fd) < 0)
		die("setsockopt(TCP_ULP, \"espintcp\")");
	printf("%s: setsockopt(SOL_TCP, TCP_ULP, \"espintcp\") = 0\n", who);
	show_ulp(who, fd);
}

static void hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && i < 32; i++)
		printf("%s%02x", i && i % 4 == 0 ? " " : "", p[i]);
	printf("%s\n", n > 32 ? " ..." : "");
}

/* Non-ESP marker + IKEv2 header (RFC 7296 3.1) + a filler payload. */
static size_t ike_msg(uint8_t *buf, int exchange, int response, uint32_t msgid,
		      size_t payload)
{
	static const uint8_t spi_i[8] = { 0x1c, 0xe1, 0x5e, 0xa1, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t spi_r[8] = { 0x5e, 0x4e, 0xe4, 0x00, 0x00, 0x00, 0x00, 0x02 };
	uint32_t len = 28 + payload;
	uint8_t *ike = buf + 4;

	memset(buf, 0, 4);
	memcpy(ike, spi_i, 8);
	if (exchange != 34 || response)
		memcpy(ike + 8, spi_r, 8);
	else
		memset(ike + 8, 0, 8);
	ike[16] = exchange == 34 ? 33 : 46;	/* next payload: SA, or SK */
	ike[17] = 0x20;				/* version 2.0 */
	ike[18] = exchange;
	ike[19] = response ? 0x20 : 0x08;	/* Response, or Initiator */
	msgid = htonl(msgid);
	memcpy(ike + 20, &msgid, 4);
	len = htonl(len);
	memcpy(ike + 24, &len, 4);
	for (size_t i = 0; i < payload; i++)
		ike[28 + i] = (uint8_t)(i * 7 + exchange);
	return 4 + 28 + payload;
}

static int exchange(const char *from, int tx, const char *to, int rx,
		    const char *what, const uint8_t *msg, size_t len)
{
	uint8_t buf[4096];
	struct pollfd pfd = { .fd = rx, .events = POLLIN };
	ssize_t n;

	printf("\n%s -> %s: %s\n", from, to, what);
	n = send(tx, msg, len, 0);
	if (n < 0)
		die("send");
	if ((size_t)n != len) {
		printf("  %s: send() = %zd, short of %zu\n", from, n, len);
		return 1;
	}
	printf("  %s: send() %4zd bytes: ", from, n);
	hex(msg, len);
	if (poll(&pfd, 1, 5000) != 1) {
		printf("  %s: nothing to read after 5 s\n", to);
		return 1;
	}
	n = recv(rx, buf, sizeof(buf), 0);
	if (n < 0)
		die("recv");
	printf("  %s: recv() %4zd bytes: ", to, n);
	hex(buf, n);
	if ((size_t)n != len || memcmp(buf, msg, len)) {
		printf("  MISMATCH: %s did not receive exactly the message %s sent\n", to, from);
		return 1;
	}
	printf("  %s received exactly one message, intact\n", to);
	return 0;
}

static void show_counters(const char *ns)
{
	char line[512];
	FILE *f;

	netns_enter(ns);
	printf("\n/proc/net/espintcp in netns %s:\n", ns);
	f = fopen("/proc/self/net/espintcp", "r");
	if (!f) {
		printf("  (cannot open: %s)\n", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		printf("  %s", line);
	fclose(f);
}

int main(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	uint8_t msg[1024], prefix[6];
	int lfd, cfd, sfd, one = 1, fails = 0;
	size_t len, got = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);

	netns_enter("srv");
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0)
		die("bind/listen");
	printf("srv: listening on TCP port %d (netns srv)\n", PORT);

	netns_enter("cli");
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (cfd < 0)
		die("socket");
	inet_pton(AF_INET, SRV_ADDR, &sa.sin_addr);
	if (connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	printf("cli: connected to %s:%d (netns cli)\n", SRV_ADDR, PORT);
	if (write(cfd, "IKETCP", 6) != 6)
		die("write IKETCP");
	printf("cli: wrote the 6-byte stream prefix \"IKETCP\"\n");
	set_ulp("cli", cfd);

	sfd = accept(lfd, NULL, NULL);
	if (sfd < 0)
		die("accept");
	printf("srv: accepted the connection\n");
	while (got < sizeof(prefix)) {
		ssize_t n = read(sfd, prefix + got, sizeof(prefix) - got);

		if (n <= 0)
			die("read prefix");
		got += n;
	}
	if (memcmp(prefix, "IKETCP", 6)) {
		printf("srv: bad stream prefix\n");
		return 1;
	}
	printf("srv: read the stream prefix \"IKETCP\"\n");
	set_ulp("srv", sfd);

	len = ike_msg(msg, 34, 0, 0, 300);
	fails += exchange("cli", cfd, "srv", sfd, "IKE_SA_INIT request", msg, len);
	len = ike_msg(msg, 34, 1, 0, 280);
	fails += exchange("srv", sfd, "cli", cfd, "IKE_SA_INIT response", msg, len);
	len = ike_msg(msg, 35, 0, 1, 500);
	fails += exchange("cli", cfd, "srv", sfd, "IKE_AUTH request", msg, len);
	len = ike_msg(msg, 35, 1, 1, 240);
	fails += exchange("srv", sfd, "cli", cfd, "IKE_AUTH response", msg, len);
	len = ike_msg(msg, 37, 0, 2, 0);
	fails += exchange("cli", cfd, "srv", sfd, "INFORMATIONAL request (liveness)", msg, len);
	len = ike_msg(msg, 37, 1, 2, 0);
	fails += exchange("srv", sfd, "cli", cfd, "INFORMATIONAL response", msg, len);

	show_counters("cli");
	show_counters("srv");

	close(cfd);
	close(sfd);
	close(lfd);
	printf("\n%s: %d exchange%s failed\n", fails ? "FAILED" : "done", fails,
	       fails == 1 ? "" : "s");
	return fails ? 1 : 0;
}
