// SPDX-License-Identifier: GPL-2.0
/*
 * espintcp ULP semantics, asserted byte for byte.
 *
 * Runs inside the guest after topo_up (tests/netns.sh): the client end of
 * every connection is created in netns "cli", the server end in "srv", so
 * the bytes cross the veth pair whose tc filters pass TCP only. One
 * process does both ends, switching netns with setns() to create sockets.
 *
 * Output: one unnumbered TAP line per test ("ok - ..." / "not ok - ..."),
 * diagnostics prefixed with "# ".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/udp.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ike_sock.h"
#include "sockaddr.h"

#define MAX_MSG 65533

#ifndef UDP_ENCAP
#define UDP_ENCAP 100
#endif

enum { CLI, SRV };
static const char *const ns_names[] = { "cli", "srv" };
static int ns_fd[2];
static int cur_ns = -1;

static const char *const addr4[] = { "10.0.1.1", "10.0.1.2" };
static const char *const addr6[] = { "fd00:1::1", "fd00:1::2" };

static bool failed;	/* the running test has failed */
static const char *skip_reason;

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#define CHECK(cond, ...) ({						\
	bool __ok = (cond);						\
	if (!__ok) {							\
		failed = true;						\
		diag("%s:%d: check failed: %s", __func__, __LINE__, #cond); \
		diag(__VA_ARGS__);					\
	}								\
	__ok;								\
})

/* an operation that must succeed; errno is shown when it does not */
#define MUST(expr) ({							\
	long __r = (long)(expr);					\
	if (__r < 0) {							\
		failed = true;						\
		diag("%s:%d: %s: %s", __func__, __LINE__, #expr,	\
		     strerror(errno));					\
	}								\
	__r;								\
})

#define EXPECT_ERRNO(expr, err) ({					\
	errno = 0;							\
	long __r = (long)(expr);					\
	CHECK(__r == -1 && errno == (err), "%s = %ld, errno %d (%s), want -1 %s", \
	      #expr, __r, errno, strerror(errno), #err);		\
})

static void enter(int ns)
{
	if (ns == cur_ns)
		return;
	if (setns(ns_fd[ns], CLONE_NEWNET)) {
		perror("setns");
		exit(2);
	}
	cur_ns = ns;
}

/* the value of @name in a "name value" file of netns @ns */
static long proc_get(int ns, const char *file, const char *name)
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

static long stat_get(int ns, const char *name)
{
	return proc_get(ns, "/proc/self/net/espintcp", name);
}

/* snapshot of one counter, to assert exact deltas */
struct ctr {
	int ns;
	const char *name;
	long start;
};

static struct ctr ctr(int ns, const char *name)
{
	return (struct ctr){ ns, name, stat_get(ns, name) };
}

static long delta(const struct ctr *c)
{
	return stat_get(c->ns, c->name) - c->start;
}

#define CHECK_DELTA(c, want)						\
	CHECK(delta(&(c)) == (long)(want), "%s[%s] moved by %ld, want %ld", \
	      (c).name, ns_names[(c).ns], delta(&(c)), (long)(want))

static socklen_t mkaddr(int family, int who, int port,
			struct sockaddr_storage *ss)
{
	return sockaddr_fill(family, family == AF_INET ? addr4[who] : addr6[who],
			     port, ss);
}

/* plain TCP connection, client end in cli, server end in srv */
static int tcp_pair(int family, int *c, int *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l, one = 1;

	enter(SRV);
	l = socket(family, SOCK_STREAM, 0);
	if (l < 0)
		return -1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
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
	diag("tcp_pair: %s", strerror(errno));
	close(l);
	return -1;
}

static int client_start(int c)
{
	if (send(c, "IKETCP", 6, 0) != 6)
		return -1;
	return ike_sock_ulp(c);
}

static int server_start(int s)
{
	char pfx[6];

	if (recv(s, pfx, sizeof(pfx), MSG_WAITALL) != 6 ||
	    memcmp(pfx, "IKETCP", 6)) {
		errno = EPROTO;
		return -1;
	}
	return ike_sock_ulp(s);
}

/* ulp: which ends get the ULP; the other end stays plain TCP */
#define ULP_CLI 1
#define ULP_SRV 2
static int espintcp_pair(int family, int ulp, int *c, int *s)
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
static void fill_ike(uint8_t *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = i < 4 ? 0 : (uint8_t)(i * 7 + seed * 13 + 1);
}

static size_t put_frame(uint8_t *out, const uint8_t *msg, size_t len)
{
	out[0] = (len + 2) >> 8;
	out[1] = (len + 2) & 0xff;
	memcpy(out + 2, msg, len);
	return len + 2;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* recv one message, waiting at most 5 s for it */
static ssize_t recv_msg(int fd, void *buf, size_t len, int flags)
{
	if (!readable(fd, 5000)) {
		errno = ETIMEDOUT;
		return -1;
	}
	return recv(fd, buf, len, flags);
}

static bool expect_msg(int fd, const uint8_t *want, size_t len)
{
	static uint8_t got[65536];
	ssize_t n = recv_msg(fd, got, sizeof(got), 0);

	if (!CHECK(n == (ssize_t)len, "recv returned %zd (%s), want %zu", n,
		   n < 0 ? strerror(errno) : "-", len))
		return false;
	return CHECK(!memcmp(got, want, len), "message bytes differ");
}

static bool nothing_queued(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);

	return CHECK(n == -1 && errno == EAGAIN,
		     "unexpected data: recv = %zd (%s)", n, strerror(errno));
}

static void close2(int a, int b)
{
	close(a);
	close(b);
}

/* ---------------------------------------------------------------- tests */

static void test_autoload(int family)
{
	struct stat st;
	char name[32] = "";
	socklen_t len = sizeof(name);
	int c, s;

	if (!stat("/sys/module/espintcp", &st)) {
		skip_reason = "module already loaded before the first ULP setsockopt";
		return;
	}
	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	CHECK(!stat("/sys/module/espintcp", &st),
	      "setsockopt(TCP_ULP) did not load the module");
	MUST(getsockopt(c, SOL_TCP, TCP_ULP, name, &len));
	CHECK(!strcmp(name, "espintcp"), "TCP_ULP reads back \"%s\"", name);
	close2(c, s);
}

static void test_exchange(int family)
{
	static const size_t sizes[] = { 5, 28, 100, 1022, 1023, 1024, 4096,
					4097, 20000, MAX_MSG };
	static uint8_t msg[MAX_MSG];
	struct ctr tx = ctr(CLI, "ike_tx_msgs"), txb = ctr(CLI, "ike_tx_bytes");
	struct ctr rx = ctr(SRV, "ike_rx_msgs"), rxb = ctr(SRV, "ike_rx_bytes");
	size_t i, bytes = 0;
	int c, s;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill_ike(msg, sizes[i], i);
		CHECK(send(c, msg, sizes[i], 0) == (ssize_t)sizes[i],
		      "send %zu: %s", sizes[i], strerror(errno));
		expect_msg(s, msg, sizes[i]);
		/* and back */
		fill_ike(msg, sizes[i], i + 100);
		CHECK(send(s, msg, sizes[i], 0) == (ssize_t)sizes[i],
		      "send back %zu: %s", sizes[i], strerror(errno));
		expect_msg(c, msg, sizes[i]);
		bytes += sizes[i];
	}
	CHECK_DELTA(tx, i);
	CHECK_DELTA(txb, bytes);
	CHECK_DELTA(rx, i);
	CHECK_DELTA(rxb, bytes);
	close2(c, s);
}

static void test_wire_tx(int family)
{
	static const size_t sizes[] = { 5, 300, 5000, MAX_MSG };
	static uint8_t msg[MAX_MSG], want[4 * 65536], got[4 * 65536];
	size_t i, total = 0;
	int c, s;

	if (espintcp_pair(family, ULP_CLI, &c, &s)) {
		failed = true;
		return;
	}
	for (i = 0; i < 4; i++) {
		fill_ike(msg, sizes[i], i);
		total += put_frame(want + total, msg, sizes[i]);
		MUST(send(c, msg, sizes[i], 0));
	}
	CHECK(recv(s, got, total, MSG_WAITALL) == (ssize_t)total,
	      "raw stream shorter than %zu", total);
	CHECK(!memcmp(got, want, total), "raw stream differs from the frames");
	usleep(100000);
	nothing_queued(s);
	close2(c, s);
}

/* a frame cut into one-byte segments: not readable until its last byte */
static void test_wire_rx_split(int family)
{
	uint8_t msg[300], frame[302];
	int c, s, one = 1;
	size_t i, n;

	if (espintcp_pair(family, ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fill_ike(msg, sizeof(msg), 3);
	n = put_frame(frame, msg, sizeof(msg));
	for (i = 0; i < n - 1; i++) {
		MUST(send(c, frame + i, 1, 0));
		if (i % 16 == 0)
			usleep(1000);
	}
	CHECK(!readable(s, 300), "readable before the last byte arrived");
	MUST(send(c, frame + n - 1, 1, 0));
	expect_msg(s, msg, sizeof(msg));
	close2(c, s);
}

/* several frames, keepalives and short frames in a single write */
static void test_wire_rx_coalesced(int family)
{
	static const uint8_t noise[] = {
		0x00, 0x03, 0xff,		/* NAT keepalive */
		0x00, 0x02,			/* empty */
		0x00, 0x03, 0x01,		/* 1 byte, not a keepalive */
		0x00, 0x04, 0x00, 0x00,
		0x00, 0x05, 0x00, 0x00, 0x00,
		0x00, 0x06, 0x00, 0x00, 0x00, 0x00, /* marker, no IKE */
		0x00, 0x06, 0x12, 0x34, 0x56, 0x78, /* SPI, no ESP */
	};
	struct ctr ka = ctr(SRV, "rx_keepalive"), sh = ctr(SRV, "rx_drop_short");
	struct ctr rx = ctr(SRV, "ike_rx_msgs");
	static uint8_t msgs[3][2000], buf[8000];
	size_t len[3] = { 5, 1500, 2000 }, n = 0;
	int c, s, i;

	if (espintcp_pair(family, ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	for (i = 0; i < 3; i++) {
		fill_ike(msgs[i], len[i], i);
		n += put_frame(buf + n, msgs[i], len[i]);
		if (i == 0) {
			memcpy(buf + n, noise, sizeof(noise));
			n += sizeof(noise);
		}
	}
	CHECK(send(c, buf, n, 0) == (ssize_t)n, "send: %s", strerror(errno));
	for (i = 0; i < 3; i++)
		expect_msg(s, msgs[i], len[i]);
	nothing_queued(s);
	CHECK_DELTA(ka, 1);
	CHECK_DELTA(sh, 6);
	CHECK_DELTA(rx, 3);
	close2(c, s);
}

/* the IKETCP prefix and the first message arrive before the ULP is set */
static void test_prefix_coalesced(int family)
{
	uint8_t msg[64], buf[6 + 66];
	char pfx[6];
	int c, s;
	size_t n;

	if (tcp_pair(family, &c, &s)) {
		failed = true;
		return;
	}
	fill_ike(msg, sizeof(msg), 9);
	memcpy(buf, "IKETCP", 6);
	n = 6 + put_frame(buf + 6, msg, sizeof(msg));
	MUST(send(c, buf, n, 0));
	usleep(100000);
	CHECK(recv(s, pfx, 6, MSG_WAITALL) == 6 && !memcmp(pfx, "IKETCP", 6),
	      "prefix");
	MUST(ike_sock_ulp(s));
	expect_msg(s, msg, sizeof(msg));
	close2(c, s);
}

static long xfrm_stat(int ns, const char *name)
{
	return proc_get(ns, "/proc/self/net/xfrm_stat", name);
}

/*
 * A plain peer sends an ESP frame with SPI @spi, then an IKE message: the
 * IKE message must come out of recv() whatever became of the ESP.
 */
static void esp_then_ike(int family, uint32_t spi)
{
	uint8_t esp_msg[40] = { spi >> 24, spi >> 16, spi >> 8, spi };
	uint8_t ike[20], buf[128];
	size_t n;
	int c, s;

	if (espintcp_pair(family, ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	fill_ike(ike, sizeof(ike), spi);
	n = put_frame(buf, esp_msg, sizeof(esp_msg));
	n += put_frame(buf + n, ike, sizeof(ike));
	MUST(send(c, buf, n, 0));
	expect_msg(s, ike, sizeof(ike));
	close2(c, s);
}

/*
 * ESP longer than an ESP-in-UDP packet of the family can hold (65507 bytes
 * over IPv4, 65527 over IPv6) is dropped and counted; one byte less goes to
 * xfrm, which has no state for it. The stream goes on.
 */
static void test_esp_too_long(int family)
{
	const size_t max = family == AF_INET ? 65507 : 65527;
	struct ctr long_ = ctr(SRV, "rx_drop_too_long");
	long nostates = xfrm_stat(SRV, "XfrmInNoStates");
	static uint8_t esp_msg[MAX_MSG], buf[2 * (MAX_MSG + 2) + 64];
	uint8_t ike[20];
	size_t n;
	int c, s;

	if (espintcp_pair(family, ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	memset(esp_msg, 0xa5, sizeof(esp_msg));
	fill_ike(ike, sizeof(ike), 7);
	n = put_frame(buf, esp_msg, max);
	n += put_frame(buf + n, esp_msg, max + 1);
	n += put_frame(buf + n, ike, sizeof(ike));
	CHECK(send(c, buf, n, 0) == (ssize_t)n, "send: %s", strerror(errno));
	expect_msg(s, ike, sizeof(ike));
	CHECK_DELTA(long_, 1);
	CHECK(xfrm_stat(SRV, "XfrmInNoStates") - nostates == 1,
	      "XfrmInNoStates moved by %ld, want 1 (the %zu-byte frame)",
	      xfrm_stat(SRV, "XfrmInNoStates") - nostates, max);
	close2(c, s);
}

/* an ESP frame goes to xfrm, which has no state for it */
static void test_esp_frame(int family)
{
	struct ctr esp = ctr(SRV, "esp_rx_msgs");
	long nostates = xfrm_stat(SRV, "XfrmInNoStates");

	esp_then_ike(family, 0x1001);
	CHECK_DELTA(esp, 1);
	CHECK(xfrm_stat(SRV, "XfrmInNoStates") - nostates == 1,
	      "XfrmInNoStates moved by %ld, want 1",
	      xfrm_stat(SRV, "XfrmInNoStates") - nostates);
}

static int port_of(int fd, bool peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (peer ? getpeername(fd, (struct sockaddr *)&ss, &len) :
		   getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/*
 * The state, in netns @ns, of ESP from cli to srv with encap espintcp on
 * @c's ports, in @mode, @extra appended to `ip xfrm state add`: in cli it
 * sends, in srv it receives.
 */
static bool esp_state_in(int ns, int family, int c, unsigned int spi,
			 const char *mode, const char *extra)
{
	const char *c_ip = family == AF_INET ? addr4[CLI] : addr6[CLI];
	const char *s_ip = family == AF_INET ? addr4[SRV] : addr6[SRV];
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "ip -n %s xfrm state add src %s dst %s proto esp spi %#x "
		 "mode %s aead 'rfc4106(gcm(aes))' "
		 "0x0102030405060708090a0b0c0d0e0f1011121314 128 "
		 "encap espintcp %d %d 0.0.0.0 %s",
		 ns_names[ns], c_ip, s_ip, spi, mode, port_of(c, false),
		 port_of(c, true), extra);
	return CHECK(!system(cmd), "%s", cmd);
}

static bool esp_state(int ns, int family, int c, unsigned int spi)
{
	return esp_state_in(ns, family, c, spi, "transport", "");
}

/*
 * cli's state in @mode, and its policy for UDP to srv's @dport: that UDP
 * becomes ESP
 */
static bool esp_out_state_in(int family, int c, unsigned int spi,
			     const char *mode, const char *sel)
{
	const char *c_ip = family == AF_INET ? addr4[CLI] : addr6[CLI];
	const char *s_ip = family == AF_INET ? addr4[SRV] : addr6[SRV];
	char cmd[512];

	if (!esp_state_in(CLI, family, c, spi, mode, ""))
		return false;
	snprintf(cmd, sizeof(cmd),
		 "ip -n cli xfrm policy add src %s dst %s %s "
		 "dir out tmpl src %s dst %s proto esp mode %s",
		 c_ip, s_ip, sel, c_ip, s_ip, mode);
	return CHECK(!system(cmd), "%s", cmd);
}

static bool esp_out_state(int family, int c, unsigned int spi, int dport)
{
	char sel[32];

	snprintf(sel, sizeof(sel), "proto udp dport %d", dport);
	return esp_out_state_in(family, c, spi, "transport", sel);
}

/* srv's policy for what cli's state of esp_out_state_in() carries */
static bool esp_in_policy(int family, const char *mode, const char *sel)
{
	const char *c_ip = family == AF_INET ? addr4[CLI] : addr6[CLI];
	const char *s_ip = family == AF_INET ? addr4[SRV] : addr6[SRV];
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "ip -n srv xfrm policy add src %s dst %s %s "
		 "dir in tmpl src %s dst %s proto esp mode %s",
		 c_ip, s_ip, sel, c_ip, s_ip, mode);
	return CHECK(!system(cmd), "%s", cmd);
}

/* what the esp_*() functions above added, in both namespaces */
static void esp_flush(void)
{
	static const char cmd[] =
		"ip -n cli xfrm policy flush && ip -n cli xfrm state flush && "
		"ip -n srv xfrm policy flush && ip -n srv xfrm state flush";

	CHECK(!system(cmd), "%s", cmd);
}

/* a UDP socket in cli and srv's address for it */
static int udp_to_srv(int family, int port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	enter(CLI);
	*len = mkaddr(family, SRV, port, ss);
	return socket(family, SOCK_DGRAM, 0);
}

/*
 * ESP of an encap espintcp state as the module writes it into the stream,
 * read raw by a plain peer: two 100-byte UDP datagrams through a transport
 * mode state (rfc4106, 8-byte IV, 16-byte ICV) are two frames of
 * 2 + 8 + 8 + 112 + 16 bytes: [146][SPI 0x3003][seq 1 and 2][...].
 */
static void test_wire_esp_tx(int family)
{
	struct timeval tmo = { .tv_sec = 5 };
	struct sockaddr_storage ss;
	uint8_t data[100] = { 0 }, frame[146];
	int c, s, u, i;
	socklen_t len;

	if (espintcp_pair(family, ULP_CLI, &c, &s)) {
		failed = true;
		return;
	}
	if (!esp_out_state(family, c, 0x3003, 7777))
		goto out;

	u = udp_to_srv(family, 7777, &ss, &len);
	for (i = 0; i < 2; i++)
		MUST(sendto(u, data, sizeof(data), 0, (struct sockaddr *)&ss, len));
	close(u);

	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	for (i = 0; i < 2; i++) {
		ssize_t n = recv(s, frame, sizeof(frame), MSG_WAITALL);

		if (!CHECK(n == sizeof(frame), "frame %d: %zd bytes (%s)", i, n,
			   n < 0 ? strerror(errno) : "short"))
			break;
		CHECK(frame[0] == 0 && frame[1] == sizeof(frame),
		      "frame %d: length %u, want %zu", i,
		      frame[0] << 8 | frame[1], sizeof(frame));
		CHECK(!memcmp(frame + 2, "\0\0\x30\x03", 4),
		      "frame %d: SPI %02x%02x%02x%02x, want 00003003", i,
		      frame[2], frame[3], frame[4], frame[5]);
		CHECK(frame[6] == 0 && frame[7] == 0 && frame[8] == 0 &&
		      frame[9] == i + 1, "frame %d: sequence number %u, want %d",
		      i, frame[6] << 24 | frame[7] << 16 | frame[8] << 8 | frame[9],
		      i + 1);
	}
	nothing_queued(s);
	esp_flush();
out:
	close2(c, s);
}

#define MIX_IKE		40
#define MIX_ESP		200
#define MIX_SPI		0x3004
#define MIX_PORT	7778

static size_t mix_len(int i)
{
	return 5 + (size_t)i * 7919 % (MAX_MSG - 4);
}

/* child: MIX_IKE messages of 5 to 65533 bytes, 5 ms apart */
static pid_t mix_ike_task(int c)
{
	static uint8_t m[MAX_MSG];
	pid_t pid = fork();
	int i;

	if (pid)
		return pid;
	for (i = 0; i < MIX_IKE; i++) {
		fill_ike(m, mix_len(i), i);
		if (send(c, m, mix_len(i), 0) != (ssize_t)mix_len(i)) {
			diag("IKE sender: message %d: %s", i, strerror(errno));
			_exit(1);
		}
		usleep(5000);
	}
	_exit(0);
}

/* child: MIX_ESP datagrams through the state, 1 ms apart */
static pid_t mix_esp_task(int family)
{
	uint8_t data[100] = { 0 };
	struct sockaddr_storage ss;
	pid_t pid = fork();
	socklen_t len;
	int u, i;

	if (pid)
		return pid;
	u = udp_to_srv(family, MIX_PORT, &ss, &len);
	for (i = 0; i < MIX_ESP; i++) {
		if (sendto(u, data, sizeof(data), 0, (struct sockaddr *)&ss,
			   len) < 0) {
			diag("ESP sender: datagram %d: %s", i, strerror(errno));
			_exit(1);
		}
		usleep(1000);
	}
	_exit(0);
}

/* one frame of the raw stream: its payload into @buf, its length back */
static ssize_t read_frame(int s, uint8_t *buf)
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

/* the next frame must be IKE message @i or the next ESP packet after @seq */
static bool mix_frame_ok(const uint8_t *buf, ssize_t n, int i, uint32_t *seq,
			 bool *ike)
{
	static uint8_t m[MAX_MSG];
	uint32_t spi, sq;

	*ike = n >= 4 && !memcmp(buf, "\0\0\0\0", 4);
	if (*ike) {
		if (i < MIX_IKE)
			fill_ike(m, mix_len(i), i);
		return CHECK(i < MIX_IKE && n == (ssize_t)mix_len(i) &&
			     !memcmp(buf, m, n),
			     "IKE message %d: %zd bytes, want %zu and its bytes",
			     i, n, i < MIX_IKE ? mix_len(i) : 0);
	}
	spi = n >= 8 ? (uint32_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3] : 0;
	sq = n >= 8 ? (uint32_t)buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7] : 0;
	if (!CHECK(n == 144 && spi == MIX_SPI && sq > *seq,
		   "ESP frame: %zd bytes, SPI %08x, seq %u after %u; want 144, %08x, rising",
		   n, spi, sq, *seq, MIX_SPI))
		return false;
	*seq = sq;
	return true;
}

/*
 * IKE messages and ESP packets sent at once, read raw by a plain peer:
 * every frame whole, IKE byte-exact and in order, ESP in sequence order,
 * each ESP packet either in the stream or counted as dropped.
 */
static void test_wire_mixed(int family)
{
	struct ctr full = ctr(CLI, "tx_drop_queue_full");
	struct ctr nosock = ctr(CLI, "tx_drop_nosock");
	struct timeval tmo = { .tv_sec = 5 };
	static uint8_t buf[MAX_MSG];
	int c, s, ike = 0, esp = 0, between = 0, i, status;
	uint32_t seq = 0;
	pid_t pids[2];
	bool is_ike;
	ssize_t n;

	if (espintcp_pair(family, ULP_CLI, &c, &s)) {
		failed = true;
		return;
	}
	if (!esp_out_state(family, c, MIX_SPI, MIX_PORT))
		goto out;
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));

	pids[0] = mix_ike_task(c);
	pids[1] = mix_esp_task(family);
	/* until the last IKE message, then until every ESP is accounted for */
	while (ike < MIX_IKE ||
	       esp + delta(&full) + delta(&nosock) < MIX_ESP) {
		n = read_frame(s, buf);
		if (!CHECK(n >= 0, "frame %d: %s", ike + esp,
			   n < 0 ? strerror(errno) : ""))
			break;
		if (!mix_frame_ok(buf, n, ike, &seq, &is_ike))
			break;
		if (is_ike) {
			ike++;
		} else {
			esp++;
			between += ike > 0 && ike < MIX_IKE;
		}
	}
	for (i = 0; i < 2; i++) {
		waitpid(pids[i], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%s sender failed", i ? "ESP" : "IKE");
	}
	diag("%d IKE messages, %d ESP frames (%d between IKE messages), %ld ESP dropped",
	     ike, esp, between, delta(&full));
	CHECK(ike == MIX_IKE, "%d IKE messages, want %d", ike, MIX_IKE);
	CHECK(esp + delta(&full) == MIX_ESP,
	      "%d ESP frames + %ld dropped, want %d", esp, delta(&full), MIX_ESP);
	CHECK_DELTA(nosock, 0);
	CHECK(between > 0, "no ESP frame came between two IKE messages");
	CHECK(!readable(s, 200), "more frames than were sent");
	esp_flush();
out:
	close2(c, s);
}

/* a TcpExt counter of netns @ns (/proc/net/netstat: a line of names, one of values) */
static long tcpext_get(int ns, const char *name)
{
	static char names[8192], vals[8192];
	char *n, *v, *sn, *sv;
	long r = -1;
	FILE *f;

	enter(ns);
	f = fopen("/proc/self/net/netstat", "r");
	if (!f)
		return -1;
	while (r < 0 && fgets(names, sizeof(names), f) &&
	       fgets(vals, sizeof(vals), f)) {
		if (strncmp(names, "TcpExt:", 7))
			continue;
		n = strtok_r(names, " \n", &sn);
		v = strtok_r(vals, " \n", &sv);
		for (; n && v; n = strtok_r(NULL, " \n", &sn),
			       v = strtok_r(NULL, " \n", &sv))
			if (!strcmp(n, name)) {
				r = atol(v);
				break;
			}
	}
	fclose(f);
	return r;
}

#define COLLAPSE_IKE	16
#define COLLAPSE_ESP	20
#define COLLAPSE_PORT	7779
#define COLLAPSE_BYTES	(COLLAPSE_IKE * 1002 + COLLAPSE_ESP * 146)
#define COLLAPSE_MARK	"0x29"

/*
 * srv marks incoming TCP segments COLLAPSE_MARK (@on), or stops (!@on):
 * at prerouting, so that TCP queues them marked
 */
static bool mark_tcp_in(bool on)
{
	const char *cmd = on ?
		"ip netns exec srv nft add table inet espintcp_mark '{ chain in "
		"{ type filter hook prerouting priority -150; "
		"meta l4proto tcp meta mark set " COLLAPSE_MARK "; }; }'" :
		"ip netns exec srv nft delete table inet espintcp_mark";

	return CHECK(!system(cmd), "%s", cmd);
}

/* bytes in @fd's TCP receive queue */
static int inq(int fd)
{
	int n = -1;

	ioctl(fd, SIOCINQ, &n);
	return n;
}

static bool inq_reaches(int fd, int bytes)
{
	int i;

	for (i = 0; i < 100 && inq(fd) < bytes; i++)
		usleep(50000);
	return inq(fd) >= bytes;
}

/* the @n IKE messages of 1000 bytes fill_ike() makes from seeds 0 to @n - 1 */
static void expect_ike_seq(int s, int n)
{
	uint8_t m[1000], buf[1024];
	ssize_t got;
	int i;

	for (i = 0; i < n; i++) {
		got = recv_msg(s, buf, sizeof(buf), 0);
		fill_ike(m, sizeof(m), i);
		if (!CHECK(got == sizeof(m) && !memcmp(buf, m, sizeof(m)),
			   "IKE message %d: %zd bytes or content differs", i, got))
			return;
	}
}

/* datagrams of @size bytes read from @r, at most @max, while they come */
static int recv_datagrams(int r, int max, size_t size)
{
	uint8_t buf[1024];
	int got = 0;

	while (got < max && readable(r, 2000) &&
	       recv(r, buf, sizeof(buf), 0) == (ssize_t)size)
		got++;
	return got;
}

/*
 * ESP that TCP collapsed in its receive queue. Under memory pressure TCP
 * copies queued segments into new buffers that carry no IP header and no
 * device; ESP cut from them must still reach xfrm and be delivered, and be
 * charged to the receiving socket for its own size. The server reads half
 * of the IKETCP prefix, so that TCP's queue starts with a partly read
 * buffer, which TCP always collapses; then a smaller receive buffer and
 * more segments make it do so, before the server takes the ULP.
 */
static void test_esp_collapsed(int family)
{
	struct ctr esp = ctr(SRV, "esp_rx_msgs");
	struct ctr nodev = ctr(SRV, "rx_drop_nodev");
	long collapsed = tcpext_get(SRV, "TCPRcvCollapsed");
	unsigned int mem[SK_MEMINFO_VARS] = { 0 };
	uint8_t m[1000], data[100] = { 0 };
	socklen_t len, mlen = sizeof(mem);
	int c, s, u, r, i, more, got, small = 2048;
	struct sockaddr_storage ss;
	char pfx[6];

	if (tcp_pair(family, &c, &s) || client_start(c)) {
		failed = true;
		return;
	}
	CHECK(recv(s, pfx, 3, MSG_WAITALL) == 3 && !memcmp(pfx, "IKE", 3),
	      "IKE|TCP");
	if (!esp_out_state(family, c, 0x3005, COLLAPSE_PORT))
		goto out;
	if (!esp_state(SRV, family, c, 0x3005))
		goto flush;
	enter(SRV);
	r = socket(family, SOCK_DGRAM, 0);
	MUST(bind(r, (struct sockaddr *)&ss,
		  mkaddr(family, SRV, COLLAPSE_PORT, &ss)));

	for (i = 0; i < COLLAPSE_IKE; i++) {
		fill_ike(m, sizeof(m), i);
		MUST(send(c, m, sizeof(m), 0));
	}
	u = udp_to_srv(family, COLLAPSE_PORT, &ss, &len);
	for (i = 0; i < COLLAPSE_ESP; i++)
		MUST(sendto(u, data, sizeof(data), 0, (struct sockaddr *)&ss, len));
	close(u);
	CHECK(inq_reaches(s, 3 + COLLAPSE_BYTES), "%d bytes queued, want %d",
	      inq(s), 3 + COLLAPSE_BYTES);

	/*
	 * Over its new buffer, a segment TCP takes on its slow path makes it
	 * collapse the queue; the fast path checks only the memory already
	 * reserved, so more IKE messages follow until that happens.
	 */
	MUST(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	for (more = 0; more < COLLAPSE_IKE; more++) {
		if (tcpext_get(SRV, "TCPRcvCollapsed") > collapsed)
			break;
		fill_ike(m, sizeof(m), COLLAPSE_IKE + more);
		if (send(c, m, sizeof(m), MSG_DONTWAIT) < 0)
			break;
		usleep(50000);
	}
	diag("TCP collapsed %ld buffers",
	     tcpext_get(SRV, "TCPRcvCollapsed") - collapsed);
	CHECK(tcpext_get(SRV, "TCPRcvCollapsed") > collapsed,
	      "TCP collapsed nothing: the case was not reached");

	CHECK(recv(s, pfx, 3, MSG_WAITALL) == 3 && !memcmp(pfx, "TCP", 3),
	      "IKE|TCP");
	MUST(ike_sock_ulp(s));
	expect_ike_seq(s, COLLAPSE_IKE + more);
	usleep(200000);
	MUST(getsockopt(r, SOL_SOCKET, SO_MEMINFO, mem, &mlen));
	CHECK(mem[SK_MEMINFO_RMEM_ALLOC] <= COLLAPSE_ESP * 2048,
	      "%u bytes charged to the UDP socket for %d datagrams of %zu bytes",
	      mem[SK_MEMINFO_RMEM_ALLOC], COLLAPSE_ESP, sizeof(data));
	got = recv_datagrams(r, COLLAPSE_ESP, sizeof(data));
	CHECK(got == COLLAPSE_ESP, "%d datagrams delivered, want %d", got,
	      COLLAPSE_ESP);
	CHECK_DELTA(esp, COLLAPSE_ESP);
	CHECK_DELTA(nodev, 0);
	close(r);
flush:
	esp_flush();
out:
	close2(c, s);
}

/*
 * ESP for a marked state in a receive queue TCP collapsed: srv's ingress
 * marks the connection's segments, but the buffers TCP collapses them into
 * have no mark. ESP cut from those must find the state with the
 * connection's mark. srv's parser pauses on unread IKE messages, ESP waits
 * in TCP's queue behind them, and a smaller receive buffer makes TCP
 * collapse it.
 */
static void test_esp_collapsed_marked(int family)
{
	struct ctr esp = ctr(SRV, "esp_rx_msgs");
	struct ctr paused = ctr(SRV, "rx_paused");
	long collapsed = tcpext_get(SRV, "TCPRcvCollapsed");
	long nostates = xfrm_stat(SRV, "XfrmInNoStates");
	uint8_t m[1000], data[100] = { 0 };
	int c, s, u, r, i, ike, more, got, small = 2048;
	struct sockaddr_storage ss;
	socklen_t len;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	if (!esp_out_state(family, c, 0x3007, COLLAPSE_PORT))
		goto out;
	if (!esp_state_in(SRV, family, c, 0x3007, "transport",
			  "mark " COLLAPSE_MARK) ||
	    !mark_tcp_in(true))
		goto flush;
	enter(SRV);
	r = socket(family, SOCK_DGRAM, 0);
	MUST(bind(r, (struct sockaddr *)&ss,
		  mkaddr(family, SRV, COLLAPSE_PORT, &ss)));

	/*
	 * IKE in bursts, which TCP sends as buffers of several messages, until
	 * srv's parser pauses: then it has most likely read one in part, and
	 * TCP collapses a queue from a buffer read in part.
	 */
	for (ike = 0; ike < 8 * COLLAPSE_IKE && !delta(&paused);) {
		for (i = 0; i < 8; i++, ike++) {
			fill_ike(m, sizeof(m), ike);
			MUST(send(c, m, sizeof(m), 0));
		}
		usleep(50000);
	}
	CHECK(delta(&paused) > 0, "srv's parser did not pause");
	/* over its buffer, TCP collapses its queue as each segment comes */
	MUST(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	u = udp_to_srv(family, COLLAPSE_PORT, &ss, &len);
	for (i = 0; i < COLLAPSE_ESP; i++) {
		MUST(sendto(u, data, sizeof(data), 0, (struct sockaddr *)&ss, len));
		usleep(20000);
	}
	close(u);
	/* a slow kernel may need more segments than a fast one */
	for (more = 0; more < 4 * COLLAPSE_IKE; more++) {
		if (more >= COLLAPSE_IKE &&
		    tcpext_get(SRV, "TCPRcvCollapsed") > collapsed)
			break;
		fill_ike(m, sizeof(m), ike + more);
		if (send(c, m, sizeof(m), MSG_DONTWAIT) < 0)
			break;
		usleep(50000);
	}
	diag("TCP collapsed %ld buffers; %d more IKE messages; %d bytes queued",
	     tcpext_get(SRV, "TCPRcvCollapsed") - collapsed, more, inq(s));
	if (tcpext_get(SRV, "TCPRcvCollapsed") == collapsed) {
		skip_reason = "TCP collapsed nothing, even after four times the segments a fast kernel needs: the case was not reached";
		goto unmark;
	}

	expect_ike_seq(s, ike + more);
	got = recv_datagrams(r, COLLAPSE_ESP, sizeof(data));
	CHECK(got == COLLAPSE_ESP, "%d datagrams delivered, want %d", got,
	      COLLAPSE_ESP);
	CHECK_DELTA(esp, COLLAPSE_ESP);
	CHECK(xfrm_stat(SRV, "XfrmInNoStates") == nostates,
	      "XfrmInNoStates moved by %ld: ESP without the connection's mark",
	      xfrm_stat(SRV, "XfrmInNoStates") - nostates);
unmark:
	close(r);
	mark_tcp_in(false);
flush:
	esp_flush();
out:
	close2(c, s);
}

#define DSCP_EF		0xb8
#define DSCP_ECHO_ID	0x8229

static uint16_t inet_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* an echo request from cli to srv, sent raw: no socket of ours answers */
static bool send_echo(int family)
{
	uint8_t icmp[16] = { family == AF_INET ? 8 : 128 };
	struct sockaddr_storage ss;
	uint16_t csum;
	socklen_t len;
	ssize_t n;
	int u;

	enter(CLI);
	len = mkaddr(family, SRV, 0, &ss);
	u = socket(family, SOCK_RAW,
		   family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	icmp[4] = DSCP_ECHO_ID >> 8;
	icmp[5] = DSCP_ECHO_ID & 0xff;
	if (family == AF_INET) {	/* ICMPv6's the kernel computes */
		csum = inet_csum(icmp, sizeof(icmp));
		icmp[2] = csum >> 8;
		icmp[3] = csum & 0xff;
	}
	n = sendto(u, icmp, sizeof(icmp), 0, (struct sockaddr *)&ss, len);
	close(u);
	return CHECK(n == sizeof(icmp), "sendto: %s", strerror(errno));
}

/* the DS field of the next echo request send_echo() sent, read raw, or -1 */
static int recv_echo_dsfield(int family, int r)
{
	uint8_t buf[256], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	int tclass = -1;
	uint8_t *icmp;
	ssize_t n;

	while (readable(r, 3000)) {
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		n = recvmsg(r, &mh, 0);
		if (n < 0)
			return -1;
		/* IPv4 raw sockets read the IP header too */
		icmp = family == AF_INET ? buf + (buf[0] & 0xf) * 4 : buf;
		if (icmp + 6 > buf + n ||
		    icmp[0] != (family == AF_INET ? 8 : 128) ||
		    (icmp[4] << 8 | icmp[5]) != DSCP_ECHO_ID)
			continue;
		if (family == AF_INET)
			return buf[1];
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == IPPROTO_IPV6 &&
			    cm->cmsg_type == IPV6_TCLASS)
				memcpy(&tclass, CMSG_DATA(cm), sizeof(tclass));
		return tclass;
	}
	return -1;
}

/* @fd's segments go with DSCP EF */
static void dscp_ef(int family, int fd)
{
	int tos = DSCP_EF;

	if (family == AF_INET)
		MUST(setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)));
	else
		MUST(setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos)));
}

/* a raw socket in srv for recv_echo_dsfield() */
static int echo_raw(int family)
{
	int r, on = 1;

	enter(SRV);
	r = socket(family, SOCK_RAW,
		   family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	if (family == AF_INET6)
		MUST(setsockopt(r, IPPROTO_IPV6, IPV6_RECVTCLASS, &on,
				sizeof(on)));
	return r;
}

/*
 * decap-dscp: a tunnel mode state so flagged gives the inner packet the
 * outer one's DSCP, and over TCP the outer packet is the segment. cli's
 * connection sends its segments with DSCP EF, its echo requests go with
 * none: with the flag srv reads them with EF, without it (the control)
 * with none. (The inner packets cross srv's ingress filters again, which
 * let ICMP through but not UDP.)
 */
static void test_esp_decap_dscp(int family)
{
	static const char *const flag[] = { "flag decap-dscp", "" };
	const char *sel = family == AF_INET ? "proto icmp" : "proto ipv6-icmp";
	struct ctr esp = ctr(SRV, "esp_rx_msgs");
	int c, s, r, i, got;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	dscp_ef(family, c);

	for (i = 0; i < 2; i++) {
		if (!esp_out_state_in(family, c, 0x3101 + i, "tunnel", sel) ||
		    !esp_state_in(SRV, family, c, 0x3101 + i, "tunnel", flag[i]) ||
		    !esp_in_policy(family, "tunnel", sel))
			break;
		r = echo_raw(family);
		if (send_echo(family)) {
			got = recv_echo_dsfield(family, r);
			CHECK(got == (i ? 0 : DSCP_EF),
			      "%s: the inner packet came with DS field %#x, want %#x",
			      i ? "without decap-dscp" : "decap-dscp", got,
			      i ? 0 : DSCP_EF);
		}
		close(r);
		esp_flush();
	}
	CHECK_DELTA(esp, 2);
	close2(c, s);
}

/*
 * The ethtool feature of veth0 in @ns that @get reads is set to @on by
 * @set; returns what it was, or -1 (errno set) if it could not be set
 */
static int veth_feature(int ns, __u32 get, __u32 set, __u32 on)
{
	struct ethtool_value ev = { .cmd = get };
	struct ifreq ifr = { .ifr_name = "veth0", .ifr_data = (void *)&ev };
	int fd, was = -1;

	enter(ns);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (!ioctl(fd, SIOCETHTOOL, &ifr)) {
		was = ev.data;
		ev = (struct ethtool_value){ .cmd = set, .data = on };
		if (ioctl(fd, SIOCETHTOOL, &ifr))
			was = -1;
	}
	close(fd);
	return was;
}

/*
 * The echo request of cli's tunnel mode state 0x3103 as cli's ULP writes
 * it into a stream read raw, length prefix included, for srv's state
 * 0x3103 to take from another connection: the same key, a fresh state,
 * so a valid packet. Returns its length, or -1.
 */
static ssize_t esp_echo_frame(int family, const char *sel, uint8_t *frame)
{
	static uint8_t esp[MAX_MSG];
	ssize_t n = -1;
	int c, s;

	if (espintcp_pair(family, ULP_CLI, &c, &s)) {
		failed = true;
		return -1;
	}
	if (esp_out_state_in(family, c, 0x3103, "tunnel", sel) &&
	    send_echo(family)) {
		n = read_frame(s, esp);
		if (CHECK(n > 0, "no ESP frame for the echo request: %s",
			  strerror(errno)))
			n = put_frame(frame, esp, n);
	}
	esp_flush();
	close2(c, s);
	return n;
}

#define SPAN_IKE	4000

/*
 * decap-dscp with ESP that spans segments. The parser gathers such a
 * message in the first segment's buffer, header and all, unless that
 * buffer has a frag list, as GRO makes of segments with no page frags:
 * then in a buffer it makes, with the first segment's header offsets but
 * no header. The DSCP of that one must be the one TCP's segments carried,
 * not what lies at the offset. A plain client, its segments with DSCP EF
 * and cut in software (veth0 without scatter-gather), sends an IKE message
 * and the first half of a real ESP frame (an echo request in tunnel mode)
 * in one write, which srv's veth0, with GRO, receives as such a buffer;
 * the rest of the frame follows in a segment of its own.
 */
static void test_esp_decap_dscp_span(int family)
{
	const char *sel = family == AF_INET ? "proto icmp type 8" :
					      "proto ipv6-icmp type 128";
	static uint8_t frame[MAX_MSG + 2], buf[SPAN_IKE + 2 + sizeof(frame)];
	struct ctr esp = ctr(SRV, "esp_rx_msgs");
	int c, s, r, got, sg, gro, one = 1;
	uint8_t ike[SPAN_IKE];
	ssize_t len, half;
	size_t n;

	len = esp_echo_frame(family, sel, frame);
	if (len < 0 || espintcp_pair(family, ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	half = len / 2;
	dscp_ef(family, c);
	MUST(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	/* cli segments in software; GRO in srv chains such segments */
	sg = MUST(veth_feature(CLI, ETHTOOL_GSG, ETHTOOL_SSG, 0));
	gro = MUST(veth_feature(SRV, ETHTOOL_GGRO, ETHTOOL_SGRO, 1));
	if (sg < 0 || gro < 0)
		goto features;
	if (!esp_state_in(SRV, family, c, 0x3103, "tunnel", "flag decap-dscp") ||
	    !esp_in_policy(family, "tunnel", sel))
		goto flush;
	r = echo_raw(family);

	fill_ike(ike, sizeof(ike), 9);
	n = put_frame(buf, ike, sizeof(ike));
	memcpy(buf + n, frame, half);
	MUST(send(c, buf, n + half, 0));
	usleep(20000);
	MUST(send(c, frame + half, len - half, 0));
	expect_msg(s, ike, sizeof(ike));
	got = recv_echo_dsfield(family, r);
	CHECK(got == DSCP_EF,
	      "the inner packet came with DS field %#x, want %#x", got, DSCP_EF);
	CHECK_DELTA(esp, 1);
	close(r);
flush:
	esp_flush();
features:
	if (gro >= 0)
		MUST(veth_feature(SRV, ETHTOOL_GGRO, ETHTOOL_SGRO, gro));
	if (sg >= 0)
		MUST(veth_feature(CLI, ETHTOOL_GSG, ETHTOOL_SSG, sg));
	close2(c, s);
}

#define BURST_IKE	32
#define BURST_UDP	100
#define BURST_PORT	7780

/*
 * ESP that came in a TCP buffer of several segments (TCP keeps their GSO
 * size on it) is one packet once decrypted: a UDP socket with encap_rcv
 * (an IKE daemon's, a nested tunnel's) would take it for an unexpected
 * GSO packet and drop it. The server pauses on unread IKE messages while
 * the client's ESP waits for its window; read, the window opens to a
 * burst of multi-segment buffers.
 */
static void test_esp_burst_encap(int family)
{
	struct ctr full = ctr(CLI, "tx_drop_queue_full");
	int c, s, u, r, i, ike, got, small = 8192;
	int type = UDP_ENCAP_ESPINUDP;
	uint8_t m[1000], data[200] = { 0 };
	struct sockaddr_storage ss;
	socklen_t len;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	if (!esp_out_state(family, c, 0x3006, BURST_PORT))
		goto out;
	if (!esp_state(SRV, family, c, 0x3006))
		goto flush;
	enter(SRV);
	r = socket(family, SOCK_DGRAM, 0);
	MUST(bind(r, (struct sockaddr *)&ss,
		  mkaddr(family, SRV, BURST_PORT, &ss)));
	MUST(setsockopt(r, IPPROTO_UDP, UDP_ENCAP, &type, sizeof(type)));
	MUST(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));

	for (ike = 0; ike < BURST_IKE; ike++) {
		fill_ike(m, sizeof(m), ike);
		if (send(c, m, sizeof(m), MSG_DONTWAIT) < 0)
			break;
	}
	usleep(200000);
	/* a zero non-ESP marker: encap_rcv passes them to the socket */
	u = udp_to_srv(family, BURST_PORT, &ss, &len);
	for (i = 0; i < BURST_UDP; i++) {
		data[4] = i;
		MUST(sendto(u, data, sizeof(data), 0, (struct sockaddr *)&ss, len));
	}
	close(u);
	usleep(200000);

	expect_ike_seq(s, ike);
	got = recv_datagrams(r, BURST_UDP, sizeof(data));
	diag("%d IKE messages held the window shut; %ld ESP dropped by the sender",
	     ike, delta(&full));
	CHECK(got == BURST_UDP - delta(&full),
	      "%d datagrams reached the encap socket, want %ld", got,
	      BURST_UDP - delta(&full));
	close(r);
flush:
	esp_flush();
out:
	close2(c, s);
}

/* ESP over TCP whose SPI is an ESP-in-UDP state's is refused */
static void test_esp_udp_state(int family)
{
	struct ctr refused = ctr(SRV, "rx_drop_not_tcp_state");
	long protoerr = xfrm_stat(SRV, "XfrmInStateProtoError");
	const char *c_ip = family == AF_INET ? addr4[CLI] : addr6[CLI];
	const char *s_ip = family == AF_INET ? addr4[SRV] : addr6[SRV];
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "ip -n srv xfrm state add src %s dst %s proto esp spi 0x2002 "
		 "mode transport aead 'rfc4106(gcm(aes))' "
		 "0x0102030405060708090a0b0c0d0e0f1011121314 128 "
		 "encap espinudp 4500 4500 0.0.0.0", c_ip, s_ip);
	if (!CHECK(!system(cmd), "%s", cmd))
		return;
	esp_then_ike(family, 0x2002);
	CHECK_DELTA(refused, 1);
	CHECK(xfrm_stat(SRV, "XfrmInStateProtoError") == protoerr,
	      "xfrm was handed the frame (XfrmInStateProtoError moved)");
	snprintf(cmd, sizeof(cmd),
		 "ip -n srv xfrm state delete src %s dst %s proto esp spi 0x2002",
		 c_ip, s_ip);
	CHECK(!system(cmd), "%s", cmd);
}

/* until srv has a netlink socket in xfrm's groups: ip xfrm monitor's */
#define XFRM_MONITOR_WAIT						\
	"for i in $(seq 100); do ip netns exec srv awk "		\
	"'$2 == 6 && $4 != \"00000000\" { f = 1 } END { exit !f }' "	\
	"/proc/net/netlink && break; sleep 0.05; done"

/*
 * CVE-2026-46300: bytes spliced into a TCP socket from a file stay the
 * file's page cache pages all the way to the receiver over veth. ESP frames
 * of a live state, sent that way, must be decrypted in a copy: the file
 * must be unchanged afterwards, and the datagrams inside delivered.
 *
 * The frames are real: cli's state 0x3005 writes three into a stream read
 * raw by a plain peer; they are saved to a file; srv gets the inbound state
 * 0x3005 with the same key; a second connection, plain client to a server
 * with the ULP, carries "IKETCP" and then the file, by sendfile().
 */
static void test_esp_spliced(int family)
{
	const char *c_ip = family == AF_INET ? addr4[CLI] : addr6[CLI];
	const char *s_ip = family == AF_INET ? addr4[SRV] : addr6[SRV];
	static uint8_t frames[3 * 146], after[sizeof(frames)];
	struct timeval tmo = { .tv_sec = 5 };
	char path[] = "/tmp/espintcp-splice-XXXXXX", cmd[512];
	struct sockaddr_storage ss;
	uint8_t data[100], got[200];
	int c, s, u, r, f, i;
	socklen_t len;
	ssize_t n;

	if (espintcp_pair(family, ULP_CLI, &c, &s)) {
		failed = true;
		return;
	}
	if (!esp_out_state(family, c, 0x3005, 7779))
		goto out;
	snprintf(cmd, sizeof(cmd),
		 "ip -n srv xfrm state add src %s dst %s proto esp spi 0x3005 "
		 "mode transport aead 'rfc4106(gcm(aes))' "
		 "0x0102030405060708090a0b0c0d0e0f1011121314 128 "
		 "encap espintcp 1 1 0.0.0.0", c_ip, s_ip);
	if (!CHECK(!system(cmd), "%s", cmd))
		goto flush;

	u = udp_to_srv(family, 7779, &ss, &len);
	for (i = 0; i < 3; i++) {
		memset(data, 'a' + i, sizeof(data));
		MUST(sendto(u, data, sizeof(data), 0, (struct sockaddr *)&ss, len));
	}
	close(u);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	n = recv(s, frames, sizeof(frames), MSG_WAITALL);
	if (!CHECK(n == sizeof(frames), "read %zd bytes of ESP frames, want %zu",
		   n, sizeof(frames)))
		goto flush;

	f = mkstemp(path);
	MUST(write(f, frames, sizeof(frames)));
	fsync(f);

	/* what the inner datagrams are for, in srv */
	enter(SRV);
	r = socket(family, SOCK_DGRAM, 0);
	mkaddr(family, SRV, 7779, &ss);
	MUST(bind(r, (struct sockaddr *)&ss, len));
	setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));

	close2(c, s);
	/* the state's encap ports are not the connection's: a mapping event */
	CHECK(!system("ip -n srv xfrm monitor > /tmp/mapping.out 2>&1 & "
		      "echo $! > /tmp/mapping.pid; " XFRM_MONITOR_WAIT),
	      "ip xfrm monitor");
	if (espintcp_pair(family, ULP_SRV, &c, &s)) {
		failed = true;
		goto file;
	}
	CHECK(sendfile(c, f, &(off_t){ 0 }, sizeof(frames)) == sizeof(frames),
	      "sendfile: %s", strerror(errno));
	for (i = 0; i < 3; i++) {
		n = recv(r, got, sizeof(got), 0);
		CHECK(n == sizeof(data) && got[0] == 'a' + i &&
		      got[sizeof(data) - 1] == 'a' + i,
		      "datagram %d: %zd bytes (%s), want 100 of '%c'", i, n,
		      n < 0 ? strerror(errno) : "-", 'a' + i);
	}
	CHECK(pread(f, after, sizeof(after), 0) == sizeof(after) &&
	      !memcmp(after, frames, sizeof(frames)),
	      "the file's pages changed: ESP was decrypted in place");
	/* esp4/esp6 read the peer's port where the encap header is */
	snprintf(cmd, sizeof(cmd),
		 "kill $(cat /tmp/mapping.pid); grep -q -- '-> %s:%d *$' /tmp/mapping.out"
		 " || { cat /tmp/mapping.out; false; }", c_ip, port_of(c, false));
	CHECK(!system(cmd), "no mapping event to the connection's port %d",
	      port_of(c, false));
file:
	close(r);
	close(f);
	unlink(path);
flush:
	esp_flush();
out:
	close2(c, s);
}

static void test_bad_length(int family)
{
	static const uint8_t bad[2][2] = { { 0, 0 }, { 0, 1 } };
	struct ctr err = ctr(SRV, "rx_stream_errors");
	struct pollfd p;
	char buf[16];
	int c, s, i;

	for (i = 0; i < 2; i++) {
		if (espintcp_pair(family, ULP_SRV, &c, &s)) {
			failed = true;
			return;
		}
		MUST(send(c, bad[i], 2, 0));
		p = (struct pollfd){ .fd = s, .events = POLLIN };
		CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLERR),
		      "length %d: poll revents %#x, want POLLERR", i, p.revents);
		EXPECT_ERRNO(recv(s, buf, sizeof(buf), 0), EINVAL);
		close2(c, s);
	}
	CHECK_DELTA(err, 2);
}

static void test_trunc(int family)
{
	uint8_t m1[100], m2[50], buf[128];
	struct iovec iov = { .iov_base = buf, .iov_len = 10 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int c, s;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	fill_ike(m1, sizeof(m1), 1);
	fill_ike(m2, sizeof(m2), 2);
	MUST(send(c, m1, sizeof(m1), 0));
	MUST(send(c, m2, sizeof(m2), 0));
	MUST(send(c, m1, sizeof(m1), 0));

	readable(s, 5000);
	n = recvmsg(s, &mh, 0);
	CHECK(n == 10 && (mh.msg_flags & MSG_TRUNC) && !memcmp(buf, m1, 10),
	      "short read: %zd, flags %#x", n, mh.msg_flags);
	/* the rest of m1 is gone: the next read is m2, whole */
	expect_msg(s, m2, sizeof(m2));
	/* MSG_TRUNC asks for the real length */
	n = recv_msg(s, buf, 10, MSG_TRUNC);
	CHECK(n == sizeof(m1) && !memcmp(buf, m1, 10),
	      "recv(MSG_TRUNC) = %zd, want %zu", n, sizeof(m1));
	nothing_queued(s);
	close2(c, s);
}

static void test_peek(int family)
{
	uint8_t m[200], buf[256];
	ssize_t n;
	int c, s;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	fill_ike(m, sizeof(m), 5);
	MUST(send(c, m, sizeof(m), 0));
	n = recv_msg(s, buf, 8, MSG_PEEK);
	CHECK(n == 8 && !memcmp(buf, m, 8), "peek 8 = %zd", n);
	n = recv(s, buf, sizeof(buf), MSG_PEEK);
	CHECK(n == sizeof(m) && !memcmp(buf, m, sizeof(m)), "peek all = %zd", n);
	expect_msg(s, m, sizeof(m));
	nothing_queued(s);
	close2(c, s);
}

static void test_nonblock(int family)
{
	char buf[16];
	int c, s;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	EXPECT_ERRNO(recv(s, buf, sizeof(buf), MSG_DONTWAIT), EAGAIN);
	fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
	EXPECT_ERRNO(recv(s, buf, sizeof(buf), 0), EAGAIN);
	close2(c, s);
}

static void test_peer_close(int family)
{
	uint8_t m[64], buf[128];
	int c, s, how;

	for (how = 0; how < 2; how++) {
		if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
			failed = true;
			return;
		}
		fill_ike(m, sizeof(m), how);
		MUST(send(c, m, sizeof(m), 0));
		if (how)
			shutdown(c, SHUT_WR);
		else
			close(c);
		expect_msg(s, m, sizeof(m));
		CHECK(recv_msg(s, buf, sizeof(buf), 0) == 0,
		      "%s: recv after peer close did not return 0",
		      how ? "shutdown" : "close");
		if (how)
			close(c);
		close(s);
	}
}

static void test_send_errors(int family)
{
	static uint8_t big[MAX_MSG + 2];
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = big, .iov_len = 8 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int c, s;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	EXPECT_ERRNO(send(c, big, MAX_MSG + 1, 0), EMSGSIZE);
	EXPECT_ERRNO(send(c, big, sizeof(big), 0), EMSGSIZE);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &s, sizeof(int));
	EXPECT_ERRNO(sendmsg(c, &mh, 0), EOPNOTSUPP);
	EXPECT_ERRNO(send(c, big, 8, MSG_OOB), EOPNOTSUPP);
	/* nothing of the above reached the peer */
	usleep(100000);
	nothing_queued(s);
	close2(c, s);
}

static void test_sendfile(int family)
{
	char path[] = "/tmp/espintcp-sendfile-XXXXXX";
	int c, s, f;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	f = mkstemp(path);
	MUST(write(f, "\0\0\0\0payload", 11));
	EXPECT_ERRNO(sendfile(c, f, &(off_t){ 0 }, 11), EOPNOTSUPP);
	usleep(100000);
	nothing_queued(s);
	close(f);
	unlink(path);
	close2(c, s);
}

static void test_setsockopt_rules(int family)
{
	struct sockaddr_storage ss;
	int c, s, l, u;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	EXPECT_ERRNO(ike_sock_ulp(c), EEXIST);
	close2(c, s);

	enter(SRV);
	l = socket(family, SOCK_STREAM, 0);
	MUST(bind(l, (struct sockaddr *)&ss, mkaddr(family, SRV, 0, &ss)));
	MUST(listen(l, 1));
	EXPECT_ERRNO(ike_sock_ulp(l), ENOTCONN);
	close(l);

	/* the ULP on a fresh socket keeps it from ever listening */
	l = socket(family, SOCK_STREAM, 0);
	MUST(ike_sock_ulp(l));
	MUST(bind(l, (struct sockaddr *)&ss, mkaddr(family, SRV, 0, &ss)));
	EXPECT_ERRNO(listen(l, 1), EINVAL);
	close(l);

	u = socket(family, SOCK_DGRAM, 0);
	EXPECT_ERRNO(ike_sock_ulp(u), ENOPROTOOPT);
	close(u);
}

static void test_poll(int family)
{
	struct pollfd p;
	uint8_t m[32];
	int c, s;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	p = (struct pollfd){ .fd = s, .events = POLLIN | POLLOUT };
	CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLOUT,
	      "idle socket: revents %#x, want POLLOUT", p.revents);
	fill_ike(m, sizeof(m), 1);
	MUST(send(c, m, sizeof(m), 0));
	CHECK(readable(s, 5000), "message never became readable");
	expect_msg(s, m, sizeof(m));
	p.revents = 0;
	CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLOUT,
	      "drained socket: revents %#x, want POLLOUT", p.revents);
	close2(c, s);
}

/*
 * The receiver does not read: non-blocking sends run into EAGAIN, and
 * every message accepted before that arrives whole, in order.
 */
static void test_send_eagain(int family)
{
	static uint8_t m[60000], buf[65536];
	struct ctr tx = ctr(CLI, "ike_tx_msgs");
	int c, s, i, sent = 0, rcvbuf = 1 << 20;
	ssize_t n;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	for (i = 0; i < 1000; i++) {
		fill_ike(m, sizeof(m), i);
		n = send(c, m, sizeof(m), MSG_DONTWAIT);
		if (n < 0)
			break;
		CHECK(n == sizeof(m), "send = %zd", n);
		sent++;
	}
	CHECK(i < 1000 && errno == EAGAIN, "no EAGAIN after %d sends (%s)", i,
	      strerror(errno));
	diag("%d messages of %zu bytes accepted before EAGAIN", sent, sizeof(m));
	for (i = 0; i < sent && !failed; i++) {
		fill_ike(m, sizeof(m), i);
		n = recv_msg(s, buf, sizeof(buf), 0);
		CHECK(n == sizeof(m) && !memcmp(buf, m, sizeof(m)),
		      "message %d: %zd bytes or content differs", i, n);
	}
	nothing_queued(s);
	CHECK_DELTA(tx, sent);
	close2(c, s);
}

#define CGROOT		"/sys/fs/cgroup"
#define MEMCG		CGROOT "/espintcp_test"
#define MEMCG_PAIRS	16

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n = fd < 0 ? -1 : write(fd, text, strlen(text));

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(text);
}

/* @name's bytes in MEMCG's memory.stat, or -1 */
static long memcg_stat(const char *name)
{
	char line[128];
	long v = -1;
	size_t len = strlen(name);
	FILE *f = fopen(MEMCG "/memory.stat", "r");

	while (f && v < 0 && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ' ')
			v = atol(line + len + 1);
	if (f)
		fclose(f);
	return v;
}

/*
 * Kernel memory charged to MEMCG: memory.stat's "kernel" (Linux 5.18 on),
 * or what memory.current holds beyond user and socket memory before it
 */
static long memcg_kernel(void)
{
	long k = memcg_stat("kernel");
	char line[64];
	FILE *f;

	if (k >= 0)
		return k;
	f = fopen(MEMCG "/memory.current", "r");
	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return atol(line) - memcg_stat("anon") - memcg_stat("file") -
	       memcg_stat("sock");
}

/* this process in MEMCG (@in) or back in the root cgroup; a skip reason */
static const char *memcg_enter(bool in)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", getpid());
	if (!in) {
		write_file(CGROOT "/cgroup.procs", pid);
		rmdir(MEMCG);
		return NULL;
	}
	if (mount("none", CGROOT, "cgroup2", 0, NULL) && errno != EBUSY)
		return "cgroup2 cannot be mounted";
	if (!write_file(CGROOT "/cgroup.subtree_control", "+memory"))
		return "no memory controller";
	if ((mkdir(MEMCG, 0755) && errno != EEXIST) ||
	    !write_file(MEMCG "/cgroup.procs", pid))
		return "cannot enter a new memory cgroup";
	return NULL;
}

/*
 * The message a send() leaves in the module, until TCP takes its last
 * byte, is charged to the sender's memory cgroup as kernel memory, as TCP
 * charges its own buffers: a local user cannot pin memory outside its
 * limits. Each of 16 connections, whose peer does not read, holds one
 * 65533-byte message that TCP took in part. (Without "kernel" in
 * memory.stat, on 5.10, the sockets' own memory is not told apart.)
 */
static void test_send_memcg(int family)
{
	static uint8_t m[MAX_MSG];
	int c[MEMCG_PAIRS], s[MEMCG_PAIRS], n = 0, small = 4096, tries;
	long k0, k1 = -1;

	skip_reason = memcg_enter(true);
	if (skip_reason)
		return;
	k0 = memcg_kernel();
	fill_ike(m, sizeof(m), 1);
	for (n = 0; n < MEMCG_PAIRS; n++) {
		if (espintcp_pair(family, ULP_CLI, &c[n], &s[n])) {
			failed = true;
			break;
		}
		setsockopt(s[n], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		setsockopt(c[n], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		CHECK(send(c[n], m, sizeof(m), MSG_DONTWAIT) == sizeof(m),
		      "send: %s", strerror(errno));
		CHECK(send(c[n], m, sizeof(m), MSG_DONTWAIT) < 0 &&
		      errno == EAGAIN, "second send: not EAGAIN (%s)",
		      strerror(errno));
	}
	/* memory.stat is flushed from per-CPU counts now and then */
	for (tries = 0; tries < 40; tries++) {
		k1 = memcg_kernel();
		if (k1 - k0 >= MEMCG_PAIRS * 60000L)
			break;
		usleep(100000);
	}
	diag("kernel memory charged to the senders' cgroup: %ld bytes", k1 - k0);
	CHECK(k1 - k0 >= MEMCG_PAIRS * 60000L,
	      "%ld bytes charged for %d messages of %zu bytes", k1 - k0,
	      MEMCG_PAIRS, sizeof(m));
	while (n--)
		close2(c[n], s[n]);
	memcg_enter(false);
}

/*
 * Blocking sends against a slow reader: the stream stays byte-exact, and
 * the receiver holds TCP back instead of dropping IKE messages.
 */
static void test_send_blocking(int family)
{
	static uint8_t m[MAX_MSG], buf[65536];
	struct ctr paused = ctr(SRV, "rx_paused");
	struct ctr nomem = ctr(SRV, "rx_drop_nomem");
	struct timeval tmo = { .tv_sec = 20 };
	const int count = 120;
	int c, s, i, status;
	pid_t pid;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	/* a reader that gives up must not leave the writer blocked */
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	pid = fork();
	if (pid == 0) {
		close(c);
		usleep(500000);	/* let the queues fill up */
		for (i = 0; i < count; i++) {
			size_t len = 5 + (size_t)i * 7919 % (MAX_MSG - 4);
			ssize_t n = recv_msg(s, buf, sizeof(buf), 0);

			fill_ike(m, len, i);
			if (n != (ssize_t)len || memcmp(buf, m, len)) {
				diag("reader: message %d: %zd bytes, want %zu",
				     i, n, len);
				_exit(1);
			}
			if (i % 10 == 0)
				usleep(20000);
		}
		_exit(0);
	}
	for (i = 0; i < count; i++) {
		size_t len = 5 + (size_t)i * 7919 % (MAX_MSG - 4);

		fill_ike(m, len, i);
		if (!CHECK(send(c, m, len, 0) == (ssize_t)len, "send %d: %s",
			   i, strerror(errno)))
			break;
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "reader saw a broken stream");
	/* whether the queue filled before TCP's window closed varies */
	diag("receiver held TCP back %ld times", delta(&paused));
	CHECK_DELTA(nomem, 0);
	close2(c, s);
}

/* child: send or receive @count messages on @fd, checking every byte */
static pid_t stream_task(int fd, bool sender, int count, unsigned int seed)
{
	static uint8_t m[512], buf[1024];
	pid_t pid = fork();
	int i;

	if (pid)
		return pid;
	for (i = 0; i < count; i++) {
		size_t len = 5 + (i * 37 + seed) % (sizeof(m) - 4);
		ssize_t n;

		fill_ike(m, len, i + seed);
		if (sender) {
			n = send(fd, m, len, 0);
		} else {
			n = recv_msg(fd, buf, sizeof(buf), 0);
			if (n == (ssize_t)len && memcmp(buf, m, len))
				n = -2;
		}
		if (n != (ssize_t)len) {
			diag("%s: message %d: %zd (%s), want %zu",
			     sender ? "sender" : "receiver", i, n,
			     n == -1 ? strerror(errno) : "bytes differ", len);
			_exit(1);
		}
	}
	_exit(0);
}

/*
 * Both ends send and receive at once, from four tasks, while the socket's
 * memory accounting is updated by TCP in softirq: every byte arrives, and
 * a socket freed with its accounting off would WARN in inet_sock_destruct.
 */
static void test_duplex(int family)
{
	const int count = 20000;
	pid_t pids[4];
	int c, s, i, status;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	pids[0] = stream_task(c, true, count, 1);
	pids[1] = stream_task(s, false, count, 1);
	pids[2] = stream_task(s, true, count, 2);
	pids[3] = stream_task(c, false, count, 2);
	for (i = 0; i < 4; i++) {
		waitpid(pids[i], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "task %d failed", i);
	}
	close2(c, s);
}

/* sockets torn down with messages still queued both ways */
static void test_close_busy(int family)
{
	static uint8_t m[60000];
	int c, s, i;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	fill_ike(m, sizeof(m), 0);
	for (i = 0; i < 20; i++)
		if (send(c, m, sizeof(m), MSG_DONTWAIT) < 0 ||
		    send(s, m, 100, MSG_DONTWAIT) < 0)
			break;
	CHECK(i > 0, "nothing could be sent");
	close2(c, s);
}

/* bytes @fd's TCP holds unacknowledged or, with @unsent, not yet sent */
static int outq(int fd, bool unsent)
{
	int n = -1;

	ioctl(fd, unsent ? SIOCOUTQNSD : SIOCOUTQ, &n);
	return n;
}

static bool writeable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

/* until the peer has acknowledged every byte TCP sent, for up to 5 s */
static bool tcp_settled(int fd)
{
	int i;

	for (i = 0; i < 500 && outq(fd, false) != outq(fd, true); i++)
		usleep(10000);
	return outq(fd, false) == outq(fd, true);
}

/* the state letter of task @pid once it is no longer running, within 5 s */
static char task_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int i, fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (i = 0; i < 500; i++) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return 0;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return 0;
		buf[n] = 0;
		p = strrchr(buf, ')');
		if (p && p[1] && p[2] != 'R')
			return p[2];
		usleep(10000);
	}
	return 'R';
}

/* writes @val to module parameter file @path; returns the old value or -1 */
static long param_set(const char *path, long val)
{
	long old;
	FILE *f = fopen(path, "r+");

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &old) != 1 || fseek(f, 0, SEEK_SET) ||
	    fprintf(f, "%ld\n", val) < 0)
		old = -1;
	if (fclose(f))
		old = -1;
	return old;
}

#define NOTSENT_PARAM	"/sys/module/espintcp/parameters/esp_notsent_bytes"
#define WS_MSG		1000
#define WS_MAX		1000

/*
 * The slot is empty, but TCP's send queue is too full for the socket to be
 * writeable: a poller must be woken once TCP frees space. The server reads
 * nothing until the client's TCP has stopped on the closed window and a
 * poller sleeps, then drains the stream.
 *
 * With esp_notsent_bytes 0 (no limit), ESP has no say in when TCP calls
 * back: tx.c otherwise asks for that callback whenever enough bytes wait
 * unsent, ESP queued or not, which would hide a poll that does not ask.
 */
static void test_poll_write_space(int family)
{
	static uint8_t want[WS_MAX * (WS_MSG + 2)], got[sizeof(want)];
	int c, s, n = 0, status, sndbuf = 16384;
	size_t total = 0, have = 0;
	long notsent = -1;
	uint8_t m[WS_MSG];
	struct pollfd p;
	ssize_t r;
	pid_t pid;

	if (espintcp_pair(family, ULP_CLI, &c, &s)) {
		failed = true;
		return;
	}
	MUST(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)));
	notsent = param_set(NOTSENT_PARAM, 0);
	if (!CHECK(notsent >= 0, "%s: %s", NOTSENT_PARAM, strerror(errno)))
		goto out;
	/*
	 * Small messages while the socket is writeable: TCP takes each whole,
	 * so it never has to wait for space itself. Not writeable, TCP may
	 * still be sending; once it has stopped, the window is closed.
	 */
	for (;;) {
		if (writeable(c)) {
			if (!CHECK(n < WS_MAX, "still writeable after %d messages",
				   n))
				goto out;
			fill_ike(m, sizeof(m), n);
			if (!CHECK(send(c, m, sizeof(m), MSG_DONTWAIT) ==
				   sizeof(m), "send %d: %s", n, strerror(errno)))
				goto out;
			total += put_frame(want + total, m, sizeof(m));
			n++;
			continue;
		}
		if (!CHECK(tcp_settled(c), "TCP still sending: %d bytes in flight",
			   outq(c, false) - outq(c, true)))
			goto out;
		if (!writeable(c))
			break;
	}
	/* every byte is in TCP or past it: the slot is empty */
	if (!CHECK(outq(c, false) + inq(s) == (int)total,
		   "%d bytes in the client's TCP + %d in the server's, want %zu",
		   outq(c, false), inq(s), total))
		goto out;
	diag("%d messages sent, %d bytes of them held by the client's TCP", n,
	     outq(c, true));

	pid = fork();
	if (pid == 0) {
		p = (struct pollfd){ .fd = c, .events = POLLOUT };
		_exit(poll(&p, 1, 5000) == 1 && (p.revents & POLLOUT) ? 0 : 1);
	}
	CHECK(task_state(pid) == 'S', "the poller did not sleep");
	CHECK(!waitpid(pid, &status, WNOHANG),
	      "poll returned before the server read anything");
	/* the server reads while the poller waits, then the rest */
	while (!waitpid(pid, &status, WNOHANG)) {
		if (have == total || !readable(s, 50))
			continue;
		r = recv(s, got + have, total - have, MSG_DONTWAIT);
		if (r > 0)
			have += r;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "no POLLOUT within 5 s, though the server read %zu bytes", have);
	while (have < total && readable(s, 5000)) {
		r = recv(s, got + have, total - have, 0);
		if (r <= 0)
			break;
		have += r;
	}
	CHECK(have == total && !memcmp(got, want, total),
	      "server read %zu bytes, want the %zu bytes sent", have, total);
	nothing_queued(s);
out:
	if (notsent >= 0)
		param_set(NOTSENT_PARAM, notsent);
	close2(c, s);
}

#define EOF_MSGS	10
#define EOF_ROUNDS	20

/*
 * A plain peer sends the prefix, some messages and its FIN, all before the
 * server takes the ULP: recv() gives every message, in order, and only
 * then 0. @paused: the server's receive buffer is cut to its minimum first,
 * so that the parser stops after a message or two and goes on only as they
 * are read.
 */
static void recv_before_eof(int family, bool paused)
{
	static uint8_t buf[6 + EOF_MSGS * 302];
	struct ctr pauses = ctr(SRV, "rx_paused");
	int c, s, i, round, zero = 0;
	uint8_t m[300], got[512];
	struct pollfd p;
	ssize_t r;
	size_t n;

	for (round = 0; round < EOF_ROUNDS && !failed; round++) {
		if (tcp_pair(family, &c, &s)) {
			failed = true;
			return;
		}
		memcpy(buf, "IKETCP", 6);
		n = 6;
		for (i = 0; i < EOF_MSGS; i++) {
			fill_ike(m, sizeof(m), round * EOF_MSGS + i);
			n += put_frame(buf + n, m, sizeof(m));
		}
		CHECK(send(c, buf, n, 0) == (ssize_t)n, "send: %s",
		      strerror(errno));
		MUST(shutdown(c, SHUT_WR));
		/* the FIN comes after every byte */
		p = (struct pollfd){ .fd = s, .events = POLLRDHUP };
		CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLRDHUP),
		      "round %d: no FIN: revents %#x", round, p.revents);
		CHECK(recv(s, got, 6, MSG_WAITALL) == 6 &&
		      !memcmp(got, "IKETCP", 6), "round %d: prefix", round);
		if (paused)
			MUST(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &zero,
					sizeof(zero)));
		MUST(ike_sock_ulp(s));
		for (i = 0; i < EOF_MSGS; i++) {
			fill_ike(m, sizeof(m), round * EOF_MSGS + i);
			r = recv_msg(s, got, sizeof(got), 0);
			if (!CHECK(r == sizeof(m) && !memcmp(got, m, sizeof(m)),
				   "round %d: message %d: recv = %zd (%s), want its %zu bytes; %d bytes left in TCP",
				   round, i, r, r < 0 ? strerror(errno) : "-",
				   sizeof(m), inq(s)))
				break;
		}
		if (i == EOF_MSGS)
			CHECK(recv_msg(s, got, sizeof(got), 0) == 0,
			      "round %d: no EOF after the last message", round);
		close2(c, s);
	}
	/* the case was reached: once per round at least */
	if (paused && !failed)
		CHECK(delta(&pauses) >= round,
		      "the parser paused %ld times in %d rounds", delta(&pauses),
		      round);
}

static void test_recv_before_eof(int family)
{
	recv_before_eof(family, false);
}

static void test_recv_before_eof_paused(int family)
{
	recv_before_eof(family, true);
}

/*
 * connect(AF_UNSPEC) would drop the connection with a message half-way
 * into TCP, whose rest would then start the stream of the socket's next
 * connection. It is refused, as on a kTLS socket, and the connection goes
 * on: the peer reads every message whole, then one sent afterwards.
 */
static void test_disconnect(int family)
{
	static uint8_t m[60000], buf[MAX_MSG];
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	struct sockaddr_storage ss;
	int c, s, l, s2, i, r, err, sent = 0;
	uint8_t small[302], hdr[2];
	socklen_t len;
	ssize_t n;

	if (espintcp_pair(family, ULP_CLI, &c, &s)) {
		failed = true;
		return;
	}
	/* until TCP is full: the last message accepted is in it only in part */
	for (i = 0; i < 1000; i++) {
		fill_ike(m, sizeof(m), i);
		if (send(c, m, sizeof(m), MSG_DONTWAIT) < 0)
			break;
		sent++;
	}
	if (!CHECK(i < 1000 && errno == EAGAIN, "no EAGAIN after %d sends (%s)",
		   i, strerror(errno)))
		goto out;
	fill_ike(small, sizeof(small), 99);

	errno = 0;
	r = connect(c, &unspec, sizeof(unspec));
	err = errno;
	if (!CHECK(r == -1 && err == EOPNOTSUPP,
		   "connect(AF_UNSPEC) = %d, errno %d (%s), want -1 EOPNOTSUPP",
		   r, err, strerror(err))) {
		if (r)
			goto out;
		/* it disconnected: where does the next connection's stream start? */
		enter(SRV);
		l = socket(family, SOCK_STREAM, 0);
		MUST(bind(l, (struct sockaddr *)&ss, mkaddr(family, SRV, 0, &ss)));
		MUST(listen(l, 1));
		len = sizeof(ss);
		getsockname(l, (struct sockaddr *)&ss, &len);
		if (MUST(connect(c, (struct sockaddr *)&ss, len)) == 0) {
			s2 = MUST(accept(l, NULL, NULL));
			send(c, small, sizeof(small), MSG_DONTWAIT);
			n = readable(s2, 5000) ? recv(s2, hdr, 2, MSG_WAITALL) : -1;
			CHECK(n == 2 && (hdr[0] << 8 | hdr[1]) == sizeof(small) + 2,
			      "the next connection's first length field: %d, want %zu",
			      n == 2 ? hdr[0] << 8 | hdr[1] : -1,
			      sizeof(small) + 2);
			close(s2);
		}
		close(l);
		goto out;
	}

	for (i = 0; i < sent; i++) {
		fill_ike(m, sizeof(m), i);
		n = read_frame(s, buf);
		if (!CHECK(n == sizeof(m) && !memcmp(buf, m, sizeof(m)),
			   "message %d of %d: %zd bytes or content differs", i,
			   sent, n))
			goto out;
	}
	CHECK(send(c, small, sizeof(small), 0) == sizeof(small),
	      "send after connect(AF_UNSPEC): %s", strerror(errno));
	n = read_frame(s, buf);
	CHECK(n == sizeof(small) && !memcmp(buf, small, sizeof(small)),
	      "message after connect(AF_UNSPEC): %zd bytes or content differs",
	      n);
	nothing_queued(s);
out:
	close2(c, s);
}

static volatile sig_atomic_t sigpipes;

static void count_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

/* drop filter 20 on cli's egress: TCP to srv's @port; !@on removes it */
static bool tcp_drop(int family, int port, bool on)
{
	const char *ip = family == AF_INET ? "ip" : "ip6";
	char cmd[256];

	if (on)
		snprintf(cmd, sizeof(cmd),
			 "tc -n cli filter add dev veth0 egress protocol %s pref 20 u32 "
			 "match %s protocol 6 0xff match %s dport %d 0xffff action drop",
			 family == AF_INET ? "ip" : "ipv6", ip, ip, port);
	else
		snprintf(cmd, sizeof(cmd),
			 "tc -n cli filter del dev veth0 egress pref 20");
	return CHECK(!system(cmd), "%s", cmd);
}

/*
 * The ULP on a socket whose SYN went unanswered: like TCP, a non-blocking
 * send waits for the connection (EAGAIN), not EPIPE with a SIGPIPE, and
 * poll reports nothing. Once connected, POLLOUT, and the message goes out.
 */
static void test_connecting(int family)
{
	struct sigaction sa = { .sa_handler = count_sigpipe }, old;
	struct timeval tmo = { .tv_sec = 5 };
	struct sockaddr_storage ss;
	uint8_t m[100], buf[128];
	int c, s, l, port;
	struct pollfd p;
	socklen_t len;
	ssize_t n;

	enter(SRV);
	l = socket(family, SOCK_STREAM, 0);
	MUST(bind(l, (struct sockaddr *)&ss, mkaddr(family, SRV, 0, &ss)));
	MUST(listen(l, 1));
	len = sizeof(ss);
	getsockname(l, (struct sockaddr *)&ss, &len);
	port = port_of(l, false);
	if (!tcp_drop(family, port, true)) {
		close(l);
		return;
	}
	enter(CLI);
	c = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	EXPECT_ERRNO(connect(c, (struct sockaddr *)&ss, len), EINPROGRESS);
	if (!CHECK(!ike_sock_ulp(c), "TCP_ULP while connecting: %s",
		   strerror(errno))) {
		tcp_drop(family, port, false);
		goto out;
	}

	sigpipes = 0;
	sigaction(SIGPIPE, &sa, &old);
	p = (struct pollfd){ .fd = c, .events = POLLIN | POLLOUT };
	CHECK(poll(&p, 1, 0) == 0, "connecting: revents %#x, want none",
	      p.revents);
	fill_ike(m, sizeof(m), 4);
	EXPECT_ERRNO(send(c, m, sizeof(m), 0), EAGAIN);
	EXPECT_ERRNO(send(c, m, sizeof(m), MSG_DONTWAIT), EAGAIN);
	CHECK(sigpipes == 0, "%d SIGPIPE while connecting", (int)sigpipes);
	sigaction(SIGPIPE, &old, NULL);

	/* the SYN sent again a second after the first gets through */
	if (!tcp_drop(family, port, false))
		goto out;
	p = (struct pollfd){ .fd = c, .events = POLLOUT };
	CHECK(poll(&p, 1, 5000) == 1 && p.revents == POLLOUT,
	      "connected: revents %#x, want POLLOUT", p.revents);
	/* the server has the connection only once the client has it too */
	MUST(setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)));
	s = accept(l, NULL, NULL);
	if (!CHECK(s >= 0, "accept: %s", strerror(errno)))
		goto out;
	CHECK(send(c, m, sizeof(m), 0) == sizeof(m), "send once connected: %s",
	      strerror(errno));
	n = read_frame(s, buf);
	CHECK(n == sizeof(m) && !memcmp(buf, m, sizeof(m)),
	      "the peer read %zd bytes or other bytes than the message", n);
	nothing_queued(s);
	close(s);
out:
	close2(c, l);
}

/*
 * recv() flags a TCP socket answers with an error must not take the IKE
 * message: MSG_OOB without urgent data is EINVAL, MSG_ERRQUEUE with an
 * empty error queue EAGAIN. A message is queued for each.
 */
static void test_recv_flags(int family)
{
	static const int flags[] = {
		MSG_OOB, MSG_ERRQUEUE, MSG_OOB | MSG_PEEK
	};
	static const int errs[] = { EINVAL, EAGAIN, EINVAL };
	struct timeval tmo = { .tv_sec = 5 };
	uint8_t m[100], buf[128];
	unsigned int i;
	int c, s;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	/* a recv() that waited for a message would not wait forever */
	MUST(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)));
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		fill_ike(m, sizeof(m), i);
		MUST(send(c, m, sizeof(m), 0));
		CHECK(readable(s, 5000), "message %u never became readable", i);
		errno = 0;
		CHECK(recv(s, buf, sizeof(buf), flags[i]) == -1 &&
		      errno == errs[i],
		      "recv(%#x) with a message queued: errno %d (%s), want %d (%s)",
		      flags[i], errno, strerror(errno), errs[i],
		      strerror(errs[i]));
		expect_msg(s, m, sizeof(m));
	}
	nothing_queued(s);
	close2(c, s);
}

/* rmmod is refused while a socket holds the ULP, and works once it is gone */
static void test_unload_busy(int family)
{
	struct stat st;
	int c, s, i;

	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	EXPECT_ERRNO(syscall(SYS_delete_module, "espintcp", O_NONBLOCK),
		     EWOULDBLOCK);
	CHECK(!stat("/sys/module/espintcp", &st), "module gone under a socket");
	close2(c, s);
	/* the closed sockets drop their references once TCP is done */
	for (i = 0; i < 400; i++) {
		if (!syscall(SYS_delete_module, "espintcp", O_NONBLOCK))
			break;
		usleep(50000);
	}
	CHECK(i < 400, "rmmod still failing 20 s after close: %s",
	      strerror(errno));
	CHECK(stat("/sys/module/espintcp", &st), "module still present");
}

struct test {
	const char *name;
	void (*fn)(int family);
};

static const struct test tests[] = {
	{ "ULP autoloads the module",			test_autoload },
	{ "IKE messages both ways, 5..65533 bytes",	test_exchange },
	{ "wire: frames written by the ULP",		test_wire_tx },
	{ "wire: frame in one-byte segments",		test_wire_rx_split },
	{ "wire: coalesced frames, keepalive, short frames", test_wire_rx_coalesced },
	{ "wire: message queued before the ULP",	test_prefix_coalesced },
	{ "wire: ESP frame handed to xfrm",		test_esp_frame },
	{ "wire: ESP too long for ESP-in-UDP dropped",	test_esp_too_long },
	{ "wire: ESP frames written by the module",	test_wire_esp_tx },
	{ "wire: IKE and ESP at once, whole frames",	test_wire_mixed },
	{ "wire: ESP for an ESP-in-UDP state refused",	test_esp_udp_state },
	{ "ESP in a receive queue TCP collapsed",	test_esp_collapsed },
	{ "ESP in a collapsed queue, for a marked state", test_esp_collapsed_marked },
	{ "ESP in tunnel mode: decap-dscp takes the segment's DSCP", test_esp_decap_dscp },
	{ "ESP in tunnel mode: decap-dscp takes the segments' DSCP when the message spans them",
	  test_esp_decap_dscp_span },
	{ "ESP in a burst, to a UDP encap socket",	test_esp_burst_encap },
	{ "ESP spliced from a file is not decrypted in place", test_esp_spliced },
	{ "wire: length < 2 aborts the stream with EINVAL", test_bad_length },
	{ "recv: short buffer truncates, MSG_TRUNC",	test_trunc },
	{ "recv: MSG_PEEK",				test_peek },
	{ "recv: non-blocking EAGAIN",			test_nonblock },
	{ "recv: 0 after the peer closes",		test_peer_close },
	{ "send: EMSGSIZE, EOPNOTSUPP",			test_send_errors },
	{ "send: sendfile refused",			test_sendfile },
	{ "setsockopt: EEXIST, listen, UDP",		test_setsockopt_rules },
	{ "poll: POLLIN only for whole messages",	test_poll },
	{ "send: non-blocking EAGAIN, nothing lost",	test_send_eagain },
	{ "send: a held message is charged to the sender's memcg", test_send_memcg },
	{ "send: blocking, slow reader, nothing dropped", test_send_blocking },
	{ "send and recv from four tasks at once",	test_duplex },
	{ "close with queues full",			test_close_busy },
	{ "poll: POLLOUT arrives once TCP can send again", test_poll_write_space },
	{ "recv: every message before EOF",		test_recv_before_eof },
	{ "recv: every message before EOF, parser paused", test_recv_before_eof_paused },
	{ "disconnect: connect(AF_UNSPEC) refused",	test_disconnect },
	{ "send and poll on a socket still connecting",	test_connecting },
	{ "recv: MSG_OOB and MSG_ERRQUEUE do not consume IKE messages",
	  test_recv_flags },
	{ "rmmod refused while in use",			test_unload_busy },
};

int main(int argc, char **argv)
{
	static const int families[] = { AF_INET, AF_INET6 };
	const char *only = argc > 1 ? argv[1] : NULL;
	unsigned int t, f;
	char path[64];
	int i, nfail = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/var/run/netns/%s", ns_names[i]);
		ns_fd[i] = open(path, O_RDONLY);
		if (ns_fd[i] < 0) {
			printf("not ok - open %s: %s (run topo_up first)\n",
			       path, strerror(errno));
			return 1;
		}
	}

	for (t = 0; t < sizeof(tests) / sizeof(tests[0]); t++) {
		for (f = 0; f < 2; f++) {
			const char *fam = families[f] == AF_INET ? "IPv4" : "IPv6";

			/* the module loads once, and unloads once, per run */
			if (f && (tests[t].fn == test_autoload ||
				  tests[t].fn == test_unload_busy))
				continue;
			if (only && !strstr(tests[t].name, only))
				continue;
			failed = false;
			skip_reason = NULL;
			tests[t].fn(families[f]);
			/* a skip never hides a check that failed before it */
			if (skip_reason && !failed)
				printf("ok - %s [%s] # SKIP %s\n", tests[t].name,
				       fam, skip_reason);
			else
				printf("%sok - %s [%s]\n", failed ? "not " : "",
				       tests[t].name, fam);
			nfail += failed;
		}
	}
	return nfail ? 1 : 0;
}
