// SPDX-License-Identifier: GPL-2.0
/*
 * The helpers of the guest's C programs: see harness.h.
 */
#include "harness.h"

const char *const ns_names[] = { "cli", "srv" };
static int ns_fd[2];
static int cur_ns = -1;
static bool local;	/* both ends in the caller's netns, over lo */

const char *const addr4[] = { "10.0.1.1", "10.0.1.2" };
const char *const addr6[] = { "fd00:1::1", "fd00:1::2" };

bool failed;
const char *skip_reason;

void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/*
 * The netns topo_up made; false, with a TAP line saying why, if one is
 * missing. With HARNESS_NETNS=local, none: both ends stay in the caller's
 * netns and meet over lo, as an unprivileged user's programs do (setns
 * needs CAP_SYS_ADMIN).
 */
bool netns_open(void)
{
	const char *mode = getenv("HARNESS_NETNS");
	char path[64];
	int i;

	if (mode && !strcmp(mode, "local")) {
		local = true;
		return true;
	}
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/var/run/netns/%s", ns_names[i]);
		ns_fd[i] = open(path, O_RDONLY);
		if (ns_fd[i] < 0) {
			printf("not ok - open %s: %s (run topo_up first)\n",
			       path, strerror(errno));
			return false;
		}
	}
	return true;
}

void enter(int ns)
{
	if (local || ns == cur_ns)
		return;
	if (setns(ns_fd[ns], CLONE_NEWNET)) {
		perror("setns");
		exit(2);
	}
	cur_ns = ns;
}

/* the value of @name in a "name value" file of netns @ns */
long proc_get(int ns, const char *file, const char *name)
{
	char key[64];
	long val;
	FILE *f;

	enter(ns);
	f = fopen(file, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			fclose(f);
			return val;
		}
	}
	fclose(f);
	return -1;
}

long stat_get(int ns, const char *name)
{
	return proc_get(ns, "/proc/self/net/espintcp", name);
}

struct ctr ctr(int ns, const char *name)
{
	return (struct ctr){ ns, name, stat_get(ns, name) };
}

long delta(const struct ctr *c)
{
	return stat_get(c->ns, c->name) - c->start;
}

socklen_t mkaddr(int family, int who, int port,
			struct sockaddr_storage *ss)
{
	const char *a = family == AF_INET ? addr4[who] : addr6[who];

	if (local)
		a = family == AF_INET ? "127.0.0.1" : "::1";
	return sockaddr_fill(family, a, port, ss);
}

/* plain TCP connection, client end in cli, server end in srv */
static int tcp_pair_once(int family, int rcvbuf, int *c, int *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l, one = 1, err;

	*c = -1;
	enter(SRV);
	l = socket(family, SOCK_STREAM, 0);
	if (l < 0)
		return -1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (rcvbuf)
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	len = mkaddr(family, SRV, 0, &ss);
	if (bind(l, (struct sockaddr *)&ss, len) || listen(l, 8))
		goto err;
	len = sizeof(ss);
	getsockname(l, (struct sockaddr *)&ss, &len);

	enter(CLI);
	*c = socket(family, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&ss, len))
		goto err;
	*s = accept(l, NULL, NULL);
	if (*s < 0)
		goto err;
	close(l);
	return 0;
err:
	err = errno;
	if (*c >= 0)
		close(*c);
	close(l);
	errno = err;
	return -1;
}

/*
 * A connected pair, with SO_RCVBUF on the listener (which the server end
 * inherits) unless @rcvbuf is 0; set-up that fails for want of memory
 * (70-fault.sh makes allocations fail under the fuzzer) is tried again,
 * up to 20 times
 */
int tcp_pair_rcvbuf(int family, int rcvbuf, int *c, int *s)
{
	int i;

	for (i = 0; i < 20; i++) {
		if (!tcp_pair_once(family, rcvbuf, c, s))
			return 0;
		if (errno != ENOMEM && errno != ENOBUFS && errno != EADDRINUSE &&
		    errno != EADDRNOTAVAIL)
			break;
		usleep(10000);
	}
	diag("tcp_pair: %s", strerror(errno));
	return -1;
}

int tcp_pair(int family, int *c, int *s)
{
	return tcp_pair_rcvbuf(family, 0, c, s);
}

int client_start(int c)
{
	if (send(c, "IKETCP", 6, 0) != 6)
		return -1;
	return ike_sock_ulp(c);
}

int server_start(int s)
{
	char pfx[6];

	if (recv(s, pfx, sizeof(pfx), MSG_WAITALL) != 6 ||
	    memcmp(pfx, "IKETCP", 6)) {
		errno = EPROTO;
		return -1;
	}
	return ike_sock_ulp(s);
}

int espintcp_pair(int family, int ulp, int *c, int *s)
{
	char pfx[6];

	if (tcp_pair(family, c, s))
		return -1;
	if (ulp & ULP_CLI ? client_start(*c) :
	    send(*c, "IKETCP", 6, 0) != 6)
		goto err;
	if (ulp & ULP_SRV ? server_start(*s) :
	    recv(*s, pfx, 6, MSG_WAITALL) != 6)
		goto err;
	return 0;
err:
	diag("espintcp_pair: %s", strerror(errno));
	close(*c);
	close(*s);
	return -1;
}

/* an IKE message: non-ESP marker, then bytes derived from seed */
void fill_ike(uint8_t *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = i < 4 ? 0 : (uint8_t)(i * 7 + seed * 13 + 1);
}

size_t put_frame(uint8_t *out, const uint8_t *msg, size_t len)
{
	out[0] = (len + 2) >> 8;
	out[1] = (len + 2) & 0xff;
	memcpy(out + 2, msg, len);
	return len + 2;
}

bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* recv one message, waiting at most 5 s for it */
ssize_t recv_msg(int fd, void *buf, size_t len, int flags)
{
	if (!readable(fd, 5000)) {
		errno = ETIMEDOUT;
		return -1;
	}
	return recv(fd, buf, len, flags);
}

bool expect_msg(int fd, const uint8_t *want, size_t len)
{
	static uint8_t got[65536];
	ssize_t n = recv_msg(fd, got, sizeof(got), 0);

	if (!CHECK(n == (ssize_t)len, "recv returned %zd (%s), want %zu", n,
		   n < 0 ? strerror(errno) : "-", len))
		return false;
	return CHECK(!memcmp(got, want, len), "message bytes differ");
}

bool nothing_queued(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);

	return CHECK(n == -1 && errno == EAGAIN,
		     "unexpected data: recv = %zd (%s)", n, strerror(errno));
}

void close2(int a, int b)
{
	close(a);
	close(b);
}

int port_of(int fd, bool peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (peer ? getpeername(fd, (struct sockaddr *)&ss, &len) :
		   getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* one frame of the raw stream: its payload into @buf, its length back */
ssize_t read_frame(int s, uint8_t *buf)
{
	uint8_t hdr[2];
	size_t len;

	if (!readable(s, 5000) || recv(s, hdr, 2, MSG_WAITALL) != 2)
		return -1;
	len = hdr[0] << 8 | hdr[1];
	if (len < 2 || (len > 2 && recv(s, buf, len - 2, MSG_WAITALL) !=
				   (ssize_t)(len - 2)))
		return -1;
	return len - 2;
}

/* bytes in @fd's TCP receive queue */
int inq(int fd)
{
	int n = -1;

	ioctl(fd, SIOCINQ, &n);
	return n;
}
