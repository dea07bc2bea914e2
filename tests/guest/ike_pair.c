// SPDX-License-Identifier: GPL-2.0
/*
 * Holds an espintcp connection open for xfrm states to use, the way an IKE
 * daemon would: client in netns cli bound to CPORT, server in netns srv on
 * SPORT, both with the per-socket policy bypass, "IKETCP" then the ULP.
 *
 *   ike_pair 4|6 CPORT SPORT [hold]
 *	print "ready", then keep the connection until stdin closes.
 *   ike_pair 4|6 CPORT SPORT ike INTERVAL_MS COUNT
 *	also send an IKE request every INTERVAL_MS, COUNT times, have the
 *	server answer it, and print the round trips: "ike_rtt_us N" lines,
 *	then "ike_rtt_avg_us A" and "ike_rtt_max_us M"; then hold the
 *	connection until stdin closes, as above.
 *   ike_pair 4|6 CPORT SPORT stress COUNT
 *	wait for a line on stdin, then send COUNT IKE messages of random
 *	sizes (5 to 65533 bytes, mostly small) from client to server while
 *	the server checks every byte; print "stress COUNT exact" or what
 *	differed; then hold the connection until stdin closes.
 *   ike_pair 4|6 CPORT SPORT many N
 *	N connections, from CPORT to CPORT + N - 1, all to SPORT; print
 *	"ready N" and the microseconds they took, hold them until stdin
 *	closes, then close them all and print the microseconds that took.
 *	PEER_PLAIN=1: plain TCP connections, without "IKETCP" or the ULP
 *	(what a connection costs without the module).
 *
 * While it holds the connection, a line "rst" on stdin closes the server
 * end with SO_LINGER {1, 0}: the client end gets a RST, and its fd stays
 * open until stdin closes; "rst done" is printed.
 *
 * Environment: PEER_CLI_NS, PEER_SRV_NS (netns names, default cli, srv),
 * PEER_CADDR, PEER_SADDR (client and server addresses, default the
 * tests/guest/lib/netns.sh ones). After "ready" comes "accepted ADDR PORT": the
 * client as the server sees it, after any NAT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/ike_sock.h"
#include "lib/prog.h"
#include "lib/sockaddr.h"


static const char *env(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 10000) != 1)
		die("no answer in 10 s");
}

static void ike_pings(int c, int s, int interval_ms, int count)
{
	unsigned char req[256] = { 0 }, buf[512];
	long long t, rtt, sum = 0, max = 0;
	int i;

	for (i = 0; i < count; i++) {
		req[4] = i;
		t = now_us();
		if (send(c, req, sizeof(req), 0) != sizeof(req))
			die("send request");
		wait_in(s);
		if (recv(s, buf, sizeof(buf), 0) != sizeof(req))
			die("recv request");
		if (send(s, buf, sizeof(req), 0) != sizeof(req))
			die("send response");
		wait_in(c);
		if (recv(c, buf, sizeof(buf), 0) != sizeof(req) || buf[4] != req[4])
			die("recv response");
		rtt = now_us() - t;
		sum += rtt;
		if (rtt > max)
			max = rtt;
		printf("ike_rtt_us %lld\n", rtt);
		usleep(interval_ms * 1000);
	}
	printf("ike_rtt_avg_us %lld\nike_rtt_max_us %lld\n", sum / count, max);
}

static unsigned int xorshift(unsigned int *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* message i of the stress stream: its size, and its bytes in @m */
static size_t stress_msg(unsigned char *m, unsigned int i)
{
	unsigned int x = 2463534242u ^ (i * 2654435761u);
	size_t len, k;

	xorshift(&x);
	if (xorshift(&x) % 100 < 2)
		len = 5 + xorshift(&x) % (65533 - 4);
	else
		len = 5 + xorshift(&x) % 1496;
	memset(m, 0, 4);
	for (k = 4; k < len; k++)
		m[k] = (unsigned char)(k * 131 + i);
	return len;
}

static void stress(int c, int s, int count)
{
	static unsigned char m[65536], buf[65536];
	pid_t pid;
	int i, status;

	pid = fork();
	if (pid == 0) {
		for (i = 0; i < count; i++) {
			size_t len = stress_msg(m, i);

			if (send(c, m, len, 0) != (ssize_t)len)
				die("stress: send");
		}
		_exit(0);
	}
	for (i = 0; i < count; i++) {
		size_t len = stress_msg(m, i);
		ssize_t n;

		wait_in(s);
		n = recv(s, buf, sizeof(buf), 0);
		if (n != (ssize_t)len || memcmp(buf, m, len)) {
			printf("stress: message %d: %zd bytes, want %zu%s\n", i,
			       n, len, n == (ssize_t)len ? ", bytes differ" : "");
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
	}
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		printf("stress %d exact\n", count);
	else
		printf("stress: the sender failed\n");
}

/* until stdin closes; a line "rst" resets the connection from server @s */
static void hold(int s)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	char line[16];
	size_t n = 0;
	char ch;

	while (read(0, &ch, 1) == 1) {
		if (ch != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = ch;
			continue;
		}
		line[n] = 0;
		n = 0;
		if (strcmp(line, "rst") || s < 0)
			continue;
		if (setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
			die("SO_LINGER");
		close(s);
		s = -1;
		printf("rst done\n");
		fflush(stdout);
	}
	if (s >= 0)
		close(s);
}

/* the client end, from @caddr:@cport, connected to @saddr:@sport */
static int connect_end(int family, const char *caddr, int cport,
		       const char *saddr, int sport)
{
	struct sockaddr_storage ss;
	int one = 1, c;
	socklen_t len;

	c = socket(family, SOCK_STREAM, 0);
	setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ike_sock_bypass_or_die(c, family);
	len = sockaddr_fill(family, caddr, cport, &ss);
	if (bind(c, (struct sockaddr *)&ss, len))
		die("client bind");
	len = sockaddr_fill(family, saddr, sport, &ss);
	if (connect(c, (struct sockaddr *)&ss, len))
		die("connect");
	return c;
}

/*
 * The server end of a connection the client end @c just made to @l, the
 * client's address as the server sees it in @peer if not NULL.
 */
static int accept_end(int l, int c, bool plain, struct sockaddr_storage *peer)
{
	socklen_t plen = sizeof(*peer);
	char pfx[6];
	int s;

	if (!plain && send(c, "IKETCP", 6, 0) != 6)
		die("send IKETCP");
	if (!plain)
		ike_sock_ulp_or_die(c);
	s = accept(l, (struct sockaddr *)peer, peer ? &plen : NULL);
	if (s < 0)
		die("accept");
	if (!plain && (recv(s, pfx, 6, MSG_WAITALL) != 6 ||
		       memcmp(pfx, "IKETCP", 6)))
		die("IKETCP prefix");
	if (!plain)
		ike_sock_ulp_or_die(s);
	return s;
}

/* in netns cli, listener @l in srv: @n connections, held until stdin closes */
static int many(int family, int l, const char *caddr, const char *saddr,
		int cport, int sport, int n)
{
	bool plain = getenv("PEER_PLAIN") != NULL;
	struct rlimit rl = { .rlim_cur = 2 * n + 64, .rlim_max = 2 * n + 64 };
	long long t0;
	int *fds, i;

	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("RLIMIT_NOFILE");
	fds = calloc(2 * n, sizeof(*fds));
	if (!fds)
		die("calloc");
	t0 = now_us();
	for (i = 0; i < n; i++) {
		fds[2 * i] = connect_end(family, caddr, cport + i, saddr, sport);
		fds[2 * i + 1] = accept_end(l, fds[2 * i], plain, NULL);
	}
	printf("ready %d\nopen_us %lld\n", n, now_us() - t0);
	fflush(stdout);
	hold(-1);
	t0 = now_us();
	for (i = 0; i < 2 * n; i++)
		close(fds[i]);
	printf("close_us %lld\n", now_us() - t0);
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, peer;
	int family, cport, sport, l, c, s, one = 1;
	const char *caddr, *saddr;
	char pfx[6], ip[64];
	socklen_t len;

	if (argc < 4) {
		fprintf(stderr, "usage: %s 4|6 CPORT SPORT [hold | ike MS N | stress N | many N]\n",
			argv[0]);
		return 2;
	}
	family = atoi(argv[1]) == 6 ? AF_INET6 : AF_INET;
	cport = atoi(argv[2]);
	sport = atoi(argv[3]);
	caddr = env("PEER_CADDR", family == AF_INET ? "10.0.1.1" : "fd00:1::1");
	saddr = env("PEER_SADDR", family == AF_INET ? "10.0.1.2" : "fd00:1::2");

	netns_enter(env("PEER_SRV_NS", "srv"));
	l = socket(family, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ike_sock_bypass_or_die(l, family);	/* accepted sockets inherit it */
	len = sockaddr_fill(family, saddr, sport, &ss);
	if (bind(l, (struct sockaddr *)&ss, len) || listen(l, 16))
		die("server bind/listen");

	netns_enter(env("PEER_CLI_NS", "cli"));
	if (argc >= 6 && !strcmp(argv[4], "many"))
		return many(family, l, caddr, saddr, cport, sport, atoi(argv[5]));
	c = connect_end(family, caddr, cport, saddr, sport);
	s = accept_end(l, c, false, &peer);
	close(l);

	if (family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, ip,
			  sizeof(ip));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr,
			  ip, sizeof(ip));
	printf("ready\naccepted %s %d\n", ip,
	       ntohs(((struct sockaddr_in *)&peer)->sin_port));
	fflush(stdout);

	if (argc >= 7 && !strcmp(argv[4], "ike")) {
		ike_pings(c, s, atoi(argv[5]), atoi(argv[6]));
		fflush(stdout);
	}
	if (argc >= 6 && !strcmp(argv[4], "stress")) {
		while (read(0, pfx, 1) == 1 && pfx[0] != '\n')
			;
		stress(c, s, atoi(argv[5]));
		fflush(stdout);
	}
	hold(s);
	close(c);
	return 0;
}
