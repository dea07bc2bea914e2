// SPDX-License-Identifier: GPL-2.0
/*
 * ESP in the stream, asserted byte for byte: ESP frames handed to xfrm and
 * written by the module, IKE and ESP interleaved, ESP in receive queues
 * TCP collapsed or marked, decap-dscp, bursts to a UDP encap socket, ESP
 * spliced from a file or vmspliced from user pages (each way TCP may queue
 * it), and ESP for a state that is not a TCP one. The states and policies
 * are added with ip(8), in both namespaces. The ULP's socket semantics are
 * ulp_test.c's. The harness: lib/harness.h.
 */
#include "lib/harness.h"

#include <sys/mman.h>
#include <sys/uio.h>

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

/*
 * A call of tests/guest/lib/esp.sh's functions (sa, policy, xfrm_flush),
 * the xfrm setup the shell tests use too; a failure names the caller's line
 */
static int esp_sh_run(const char *call)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), ". /tests/guest/lib/esp.sh && %s", call);
	return system(cmd);
}

#define esp_sh(...) ({							\
	char __call[512];						\
	snprintf(__call, sizeof(__call), __VA_ARGS__);			\
	CHECK(!esp_sh_run(__call), "esp.sh: %s", __call);		\
})

#define C_IP(family)	((family) == AF_INET ? addr4[CLI] : addr6[CLI])
#define S_IP(family)	((family) == AF_INET ? addr4[SRV] : addr6[SRV])
#define FAM(family)	((family) == AF_INET ? 4 : 6)

/*
 * The state, in netns @ns, of ESP from cli to srv with encap espintcp on
 * @c's ports, in @mode, @extra appended to `ip xfrm state add`: in cli it
 * sends, in srv it receives.
 */
static bool esp_state_in(int ns, int family, int c, unsigned int spi,
			 const char *mode, const char *extra)
{
	return esp_sh("sa %s %s %d %s %s %#x %d %d %s", ns_names[ns], mode,
		      FAM(family), C_IP(family), S_IP(family), spi,
		      port_of(c, false), port_of(c, true), extra);
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
	return esp_state_in(CLI, family, c, spi, mode, "") &&
	       esp_sh("policy cli out %s %s %s %s %s %s", mode, C_IP(family),
		      S_IP(family), C_IP(family), S_IP(family), sel);
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
	return esp_sh("policy srv in %s %s %s %s %s %s", mode, C_IP(family),
		      S_IP(family), C_IP(family), S_IP(family), sel);
}

/* what the esp_*() functions above added, in both namespaces */
static void esp_flush(void)
{
	esp_sh("xfrm_flush");
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
	/* a slow kernel (the debug one) may need more than a fast one */
	for (more = 0; more < 4 * COLLAPSE_IKE; more++) {
		if (tcpext_get(SRV, "TCPRcvCollapsed") > collapsed)
			break;
		fill_ike(m, sizeof(m), COLLAPSE_IKE + more);
		if (send(c, m, sizeof(m), MSG_DONTWAIT) < 0)
			break;
		usleep(50000);
	}
	diag("TCP collapsed %ld buffers; %d more IKE messages",
	     tcpext_get(SRV, "TCPRcvCollapsed") - collapsed, more);
	if (tcpext_get(SRV, "TCPRcvCollapsed") == collapsed) {
		skip_reason = "TCP collapsed nothing, even after 4 x 16 more IKE messages over the smaller buffer (a fast kernel needs a few): the case was not reached";
		close(r);
		goto flush;
	}

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
	int c, s, u, r, i, ike, more, got, small = 2048, fixed = 65536;
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
	 * TCP collapses a queue from a buffer read in part. A fixed receive
	 * buffer: TCP grows one it tunes itself as the parser takes bytes,
	 * and the IKE queue with it.
	 */
	MUST(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &fixed, sizeof(fixed)));
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
#define SPAN_SLOTS	"tc -n cli qdisc add dev veth0 root netem slot 10ms 10ms"
#define CLI_NO_QDISC	"tc -n cli qdisc del dev veth0 root"

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
 * the rest of the frame follows in a segment of its own. netem's slots
 * release each write's segments in one burst, so that srv's GRO has them
 * in one poll rather than one by one as the sender makes them.
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
	    !esp_in_policy(family, "tunnel", sel) ||
	    !CHECK(!system(SPAN_SLOTS), "%s", SPAN_SLOTS))
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
	CHECK(!system(CLI_NO_QDISC), "%s", CLI_NO_QDISC);
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

#define QUEUE_UDP	3000
#define QUEUE_PORT	7781

static long module_param(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/espintcp/parameters/%s",
		 name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * ESP waiting for a connection whose window is shut is bounded by the
 * memory it holds, not by its length: small packets each hold a buffer
 * of a few hundred bytes at least (struct sk_buff and its shared info),
 * so esp_queue_bytes of them is far fewer than esp_queue_bytes of their
 * bytes. What the sender did not drop is in TCP (esp_tx_msgs) or in the
 * module's queue, which holds the rest while the window stays shut.
 */
static void test_esp_queue_truesize(int family)
{
	struct ctr full = ctr(CLI, "tx_drop_queue_full");
	struct ctr sent = ctr(CLI, "esp_tx_msgs");
	long qbytes = module_param("esp_queue_bytes");
	int c, s, u, i, ike, small = 8192;
	uint8_t m[1000], data[16] = { 0 };
	struct sockaddr_storage ss;
	long kept, queued, bound;
	socklen_t len;

	if (!CHECK(qbytes > 0, "esp_queue_bytes unreadable"))
		return;
	if (espintcp_pair(family, ULP_CLI | ULP_SRV, &c, &s)) {
		failed = true;
		return;
	}
	if (!esp_out_state(family, c, 0x3007, QUEUE_PORT))
		goto out;
	MUST(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	/* unread IKE messages pause the server: its window shuts */
	for (ike = 0; ike < BURST_IKE; ike++) {
		fill_ike(m, sizeof(m), ike);
		if (send(c, m, sizeof(m), MSG_DONTWAIT) < 0)
			break;
	}
	usleep(200000);
	u = udp_to_srv(family, QUEUE_PORT, &ss, &len);
	for (i = 0; i < QUEUE_UDP; i++) {
		data[4] = i;
		MUST(sendto(u, data, sizeof(data), 0, (struct sockaddr *)&ss,
			    len));
	}
	close(u);
	usleep(200000);

	/* what the sender kept and TCP did not take waits in the module */
	kept = QUEUE_UDP - delta(&full);
	queued = kept - delta(&sent);
	bound = qbytes / 512 + 1;
	diag("%ld of %d small ESP packets kept, %ld of them in TCP, %ld in the module's queue (at most %ld may be), %ld dropped",
	     kept, QUEUE_UDP, delta(&sent), queued, bound, delta(&full));
	CHECK(queued <= bound,
	      "%ld small ESP packets queued: esp_queue_bytes (%ld) counted their length, not their memory",
	      queued, qbytes);
	CHECK(delta(&full) > 0, "nothing dropped: the window never shut");
	expect_ike_seq(s, ike);
	esp_flush();
out:
	close2(c, s);
}

/* ESP over TCP whose SPI is an ESP-in-UDP state's is refused */
static void test_esp_udp_state(int family)
{
	struct ctr refused = ctr(SRV, "rx_drop_not_tcp_state");
	long protoerr = xfrm_stat(SRV, "XfrmInStateProtoError");
	char cmd[512];

	if (!esp_sh("ENCAP=espinudp sa srv transport %d %s %s 0x2002 4500 4500",
		    FAM(family), C_IP(family), S_IP(family)))
		return;
	esp_then_ike(family, 0x2002);
	CHECK_DELTA(refused, 1);
	CHECK(xfrm_stat(SRV, "XfrmInStateProtoError") == protoerr,
	      "xfrm was handed the frame (XfrmInStateProtoError moved)");
	snprintf(cmd, sizeof(cmd),
		 "ip -n srv xfrm state delete src %s dst %s proto esp spi 0x2002",
		 C_IP(family), S_IP(family));
	CHECK(!system(cmd), "%s", cmd);
}

/* until srv has a netlink socket in xfrm's groups: ip xfrm monitor's */
#define XFRM_MONITOR_WAIT						\
	"for i in $(seq 100); do ip netns exec srv awk "		\
	"'$2 == 6 && $4 != \"00000000\" { f = 1 } END { exit !f }' "	\
	"/proc/net/netlink && break; sleep 0.05; done"

#define SPLICE_N	8		/* frames */
#define SPLICE_FRAME	146		/* each: 100 bytes of UDP payload */
#define SPLICE_LEN	(SPLICE_N * SPLICE_FRAME)
#define SPLICE_SPI	0x3005
/* every other packet of cli's held back 100 ms: the rest overtakes it */
#define SPLICE_REORDER	"tc -n cli qdisc add dev veth0 root netem delay 100ms reorder 100% gap 2"

/* the ways TCP may take the spliced frames into srv's receive queue */
enum splice_way {
	SPLICE_DIRECT,		/* one write, the parser reading as it comes */
	SPLICE_COALESCED,	/* a segment each, merged in the queue */
	SPLICE_REORDERED,	/* a segment each, some through the OOO queue */
	SPLICE_GRO,		/* a segment each in one burst, srv's veth0
				 * with GRO (nothing counts its merges) */
};

/*
 * SPLICE_N real ESP frames of cli's state SPLICE_SPI, read raw by a plain
 * peer, UDP datagrams of 100 bytes of 'a', 'b', ... inside; srv gets the
 * inbound state with the same key (on ports 1 and 1: no connection's)
 */
static bool splice_frames(int family, uint8_t *frames)
{
	struct timeval tmo = { .tv_sec = 5 };
	struct sockaddr_storage ss;
	uint8_t data[100];
	socklen_t len;
	bool done = false;
	int c, s, u, i;
	ssize_t n;

	if (espintcp_pair(family, ULP_CLI, &c, &s)) {
		failed = true;
		return false;
	}
	if (!esp_out_state(family, c, SPLICE_SPI, 7779) ||
	    !esp_sh("sa srv transport %d %s %s %#x 1 1", FAM(family),
		    C_IP(family), S_IP(family), SPLICE_SPI))
		goto out;
	u = udp_to_srv(family, 7779, &ss, &len);
	for (i = 0; i < SPLICE_N; i++) {
		memset(data, 'a' + i, sizeof(data));
		MUST(sendto(u, data, sizeof(data), 0, (struct sockaddr *)&ss, len));
	}
	close(u);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	n = recv(s, frames, SPLICE_LEN, MSG_WAITALL);
	done = CHECK(n == SPLICE_LEN, "read %zd bytes of ESP frames, want %d",
		     n, SPLICE_LEN);
out:
	close2(c, s);
	return done;
}

/*
 * Bytes [@off, @off + @len) of the frames into @c without a copy: from
 * the file @f by sendfile(), or (@f < 0) from the user pages @user by
 * vmsplice() into a pipe, then splice() from it
 */
static bool splice_piece(int c, int f, const uint8_t *user, size_t off,
			 size_t len)
{
	struct iovec iov = { .iov_base = (void *)(user + off), .iov_len = len };
	int p[2];
	bool ok;

	if (f >= 0)
		return CHECK(sendfile(c, f, &(off_t){ off }, len) == (ssize_t)len,
			     "sendfile: %s", strerror(errno));
	MUST(pipe(p));
	ok = CHECK(vmsplice(p[1], &iov, 1, 0) == (ssize_t)len,
		   "vmsplice: %s", strerror(errno)) &&
	     CHECK(splice(p[0], NULL, c, NULL, len, 0) == (ssize_t)len,
		   "splice: %s", strerror(errno));
	close2(p[0], p[1]);
	return ok;
}

/*
 * CVE-2026-46300 (Fragnesia) and its relatives, CVE-2026-43284 (Dirty
 * Frag: in-place decryption of shared frags) and CVE-2026-43503 (the
 * shared-frag marker lost when TCP merges or moves buffers): bytes spliced
 * into a TCP socket, from a file or from vmsplice()d user pages, stay
 * those pages all the way to the receiver over veth. ESP frames of a live
 * state sent that way must be decrypted in a copy, whichever way TCP
 * queued them: the datagrams inside delivered, and the file or the user's
 * pages unchanged afterwards. A plain client sends "IKETCP", then the
 * frames; srv's server takes the ULP at once, or (coalesced) only once
 * they are all queued.
 */
static void test_esp_spliced(int family, bool user_pages, enum splice_way way)
{
	static uint8_t frames[SPLICE_LEN], after[SPLICE_LEN];
	char path[] = "/tmp/espintcp-splice-XXXXXX", cmd[512];
	const char *counter = way == SPLICE_COALESCED ? "TCPRcvCoalesce" :
			      way == SPLICE_REORDERED ? "TCPOFOQueue" : NULL;
	struct timeval tmo = { .tv_sec = 5 };
	struct ctr esp = ctr(SRV, "esp_rx_msgs");
	int c = -1, s = -1, r, f = -1, i, gro = -1, one = 1;
	bool qdisc_added = false, direct = way == SPLICE_DIRECT;
	const char *qdisc;
	struct sockaddr_storage ss;
	uint8_t *user = NULL, got[200];
	long before = 0;
	ssize_t n;

	if (!splice_frames(family, frames))
		goto flush;
	if (user_pages) {
		user = mmap(NULL, SPLICE_LEN, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (!CHECK(user != MAP_FAILED, "mmap: %s", strerror(errno)))
			goto flush;
		memcpy(user, frames, SPLICE_LEN);
	} else {
		f = MUST(mkstemp(path));
		MUST(write(f, frames, SPLICE_LEN));
		fsync(f);
	}

	/* what the inner datagrams are for, in srv */
	enter(SRV);
	r = socket(family, SOCK_DGRAM, 0);
	MUST(bind(r, (struct sockaddr *)&ss, mkaddr(family, SRV, 7779, &ss)));
	setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));

	if (way == SPLICE_GRO &&
	    (gro = MUST(veth_feature(SRV, ETHTOOL_GGRO, ETHTOOL_SGRO, 1))) < 0)
		goto source;
	qdisc = way == SPLICE_REORDERED ? SPLICE_REORDER :
		way == SPLICE_GRO ? SPAN_SLOTS : NULL;
	if (qdisc && !(qdisc_added = CHECK(!system(qdisc), "%s", qdisc)))
		goto source;
	/* the state's encap ports are not the connection's: a mapping event */
	if (direct)
		CHECK(!system("ip -n srv xfrm monitor > /tmp/mapping.out 2>&1 & "
			      "echo $! > /tmp/mapping.pid; " XFRM_MONITOR_WAIT),
		      "ip xfrm monitor");
	if (tcp_pair(family, &c, &s) ||
	    !CHECK(send(c, "IKETCP", 6, 0) == 6, "send IKETCP") ||
	    (way != SPLICE_COALESCED && !CHECK(!server_start(s), "server_start: %s",
						strerror(errno))))
		goto source;
	MUST(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	if (counter)
		before = tcpext_get(SRV, counter);

	if (direct) {
		splice_piece(c, f, user, 0, SPLICE_LEN);
	} else {
		for (i = 0; i < SPLICE_N; i++) {
			splice_piece(c, f, user, i * SPLICE_FRAME, SPLICE_FRAME);
			if (way != SPLICE_GRO)
				usleep(2000);
		}
	}
	if (way == SPLICE_COALESCED) {
		CHECK(inq_reaches(s, 6 + SPLICE_LEN), "%d bytes queued, want %d",
		      inq(s), 6 + SPLICE_LEN);
		CHECK(!server_start(s), "server_start: %s", strerror(errno));
	}
	for (i = 0; i < SPLICE_N; i++) {
		n = recv(r, got, sizeof(got), 0);
		CHECK(n == 100 && got[0] == 'a' + i && got[99] == 'a' + i,
		      "datagram %d: %zd bytes (%s), want 100 of '%c'", i, n,
		      n < 0 ? strerror(errno) : "-", 'a' + i);
	}
	CHECK_DELTA(esp, SPLICE_N);
	if (user_pages)
		CHECK(!memcmp(user, frames, SPLICE_LEN),
		      "the user's pages changed: ESP was decrypted in place");
	else
		CHECK(pread(f, after, SPLICE_LEN, 0) == SPLICE_LEN &&
		      !memcmp(after, frames, SPLICE_LEN),
		      "the file's pages changed: ESP was decrypted in place");
	/* the way was taken: TCP counted it */
	if (counter && tcpext_get(SRV, counter) == before) {
		if (way == SPLICE_REORDERED)
			skip_reason = "no segment of the frames came out of order: the out-of-order queue was not reached";
		else
			CHECK(false, "%s did not move: the case was not reached", counter);
	}
	/* esp4/esp6 read the peer's port where the encap header is */
	if (direct) {
		snprintf(cmd, sizeof(cmd),
			 "kill $(cat /tmp/mapping.pid); grep -q -- '-> %s:%d *$' /tmp/mapping.out"
			 " || { cat /tmp/mapping.out; false; }", C_IP(family),
			 port_of(c, false));
		CHECK(!system(cmd), "no mapping event to the connection's port %d",
		      port_of(c, false));
	}
source:
	if (qdisc_added)
		CHECK(!system(CLI_NO_QDISC), "%s", CLI_NO_QDISC);
	if (gro >= 0)
		MUST(veth_feature(SRV, ETHTOOL_GGRO, ETHTOOL_SGRO, gro));
	close(r);
	if (user)
		munmap(user, SPLICE_LEN);
	if (f >= 0) {
		close(f);
		unlink(path);
	}
flush:
	esp_flush();
	if (c >= 0)
		close2(c, s);
}

#define SPLICED(name, user_pages, way)					\
static void test_spliced_##name(int family)				\
{									\
	test_esp_spliced(family, user_pages, way);			\
}
SPLICED(file, false, SPLICE_DIRECT)
SPLICED(file_coalesced, false, SPLICE_COALESCED)
SPLICED(file_reordered, false, SPLICE_REORDERED)
SPLICED(file_gro, false, SPLICE_GRO)
SPLICED(user, true, SPLICE_DIRECT)
SPLICED(user_coalesced, true, SPLICE_COALESCED)
SPLICED(user_reordered, true, SPLICE_REORDERED)
SPLICED(user_gro, true, SPLICE_GRO)

const struct test tests[] = {
	TEST("wire: ESP frame handed to xfrm", test_esp_frame),
	TEST("wire: ESP too long for ESP-in-UDP dropped", test_esp_too_long),
	TEST("wire: ESP frames written by the module", test_wire_esp_tx),
	TEST("wire: IKE and ESP at once, whole frames", test_wire_mixed),
	TEST("wire: ESP for an ESP-in-UDP state refused", test_esp_udp_state),
	TEST("ESP in a receive queue TCP collapsed", test_esp_collapsed),
	TEST("ESP in a collapsed queue, for a marked state",
	     test_esp_collapsed_marked),
	TEST("ESP in tunnel mode: decap-dscp takes the segment's DSCP",
	     test_esp_decap_dscp),
	TEST("ESP in tunnel mode: decap-dscp takes the segments' DSCP when the message spans them",
	     test_esp_decap_dscp_span),
	TEST("ESP in a burst, to a UDP encap socket", test_esp_burst_encap),
	TEST("ESP waiting for a shut window: bounded by its memory",
	     test_esp_queue_truesize),
	TEST("ESP spliced from a file is not decrypted in place",
	     test_spliced_file),
	TEST("ESP spliced from a file, coalesced in the queue: not decrypted in place",
	     test_spliced_file_coalesced),
	TEST("ESP spliced from a file, through the out-of-order queue: not decrypted in place",
	     test_spliced_file_reordered),
	TEST("ESP spliced from a file, through GRO: not decrypted in place",
	     test_spliced_file_gro),
	TEST("ESP vmspliced from user pages is not decrypted in place",
	     test_spliced_user),
	TEST("ESP vmspliced from user pages, coalesced in the queue: not decrypted in place",
	     test_spliced_user_coalesced),
	TEST("ESP vmspliced from user pages, through the out-of-order queue: not decrypted in place",
	     test_spliced_user_reordered),
	TEST("ESP vmspliced from user pages, through GRO: not decrypted in place",
	     test_spliced_user_gro),
};

const unsigned int n_tests = sizeof(tests) / sizeof(tests[0]);
