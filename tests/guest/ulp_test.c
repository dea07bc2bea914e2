// SPDX-License-Identifier: GPL-2.0
/*
 * The espintcp ULP's socket semantics, asserted byte for byte: the module
 * loading itself, IKE messages both ways, the framing on the wire, recv()
 * and send() and poll() as RFC 8229 and upstream define them, memory
 * accounting, concurrency, close and unload. ESP in the stream is
 * esp_stream_test.c's. The harness: lib/harness.h.
 */
#include "lib/harness.h"

#include <pthread.h>

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
		/* as upstream: the bad prefix stays unread, close() resets */
		close(s);
		p = (struct pollfd){ .fd = c, .events = POLLIN };
		CHECK(poll(&p, 1, 5000) == 1, "length %d: the peer saw nothing", i);
		EXPECT_ERRNO(recv(c, buf, sizeof(buf), 0), ECONNRESET);
		close(c);
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
#define MEMCG		CGROOT "/espintcp_ulp_test"
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

struct slow_writer {
	int fd;
	const uint8_t *buf;
	size_t len, first;
	useconds_t pause;
};

/* writes @first bytes, waits @pause, then the rest */
static void *slow_writer_run(void *arg)
{
	struct slow_writer *w = arg;

	if (send(w->fd, w->buf, w->first, 0) != (ssize_t)w->first)
		return (void *)1;
	usleep(w->pause);
	if (send(w->fd, w->buf + w->first, w->len - w->first, 0) !=
	    (ssize_t)(w->len - w->first))
		return (void *)1;
	return NULL;
}

/*
 * A message may be larger than what TCP's queue holds (SO_RCVBUF set
 * small on the server) and may take longer than SO_RCVTIMEO to arrive:
 * neither is an error, the message arrives whole. The kernel's strparser
 * waited for the whole rest of a message to be in TCP's queue, which a
 * small receive buffer never held (a stall, found by the fuzzer's reader
 * rounds on Debian 12's 6.1), failed messages over sk_rcvbuf with
 * EMSGSIZE, and aborted one that took longer than SO_RCVTIMEO with
 * ETIMEDOUT.
 */
static void test_recv_big_slow(int family)
{
	static uint8_t m[60000], buf[MAX_MSG + 2], got[MAX_MSG];
	struct timeval tmo = { .tv_usec = 200000 };
	int c, s, small = 4096, tries = 0;
	struct slow_writer w;
	pthread_t t;
	void *wret;
	ssize_t n;

	if (tcp_pair(family, &c, &s)) {
		failed = true;
		return;
	}
	MUST(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	MUST(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)));
	MUST(ike_sock_ulp(s));
	fill_ike(m, sizeof(m), 7);
	n = put_frame(buf, m, sizeof(m));
	/* half of it, then the rest after more than SO_RCVTIMEO */
	w = (struct slow_writer){ c, buf, n, n / 2, 600000 };
	pthread_create(&t, NULL, slow_writer_run, &w);
	/* recv itself, not poll: SO_RCVTIMEO is recv's timeout */
	do {
		n = recv(s, got, sizeof(got), 0);
	} while (n < 0 && errno == EAGAIN && ++tries < 50);
	CHECK(n == sizeof(m) && !memcmp(got, m, sizeof(m)),
	      "recv = %zd (%s) after %d timeouts, want the %zu-byte message",
	      n, n < 0 ? strerror(errno) : "-", tries, sizeof(m));
	pthread_join(t, &wret);
	CHECK(!wret, "the writer failed: %s", strerror(errno));
	CHECK(tries > 0, "the message came before SO_RCVTIMEO: the case was not reached");
	nothing_queued(s);
	close2(c, s);
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

const struct test tests[] = {
	TEST_ONCE("ULP autoloads the module", test_autoload),
	TEST("IKE messages both ways, 5..65533 bytes", test_exchange),
	TEST("wire: frames written by the ULP", test_wire_tx),
	TEST("wire: frame in one-byte segments", test_wire_rx_split),
	TEST("wire: coalesced frames, keepalive, short frames",
	     test_wire_rx_coalesced),
	TEST("wire: message queued before the ULP", test_prefix_coalesced),
	TEST("wire: length < 2 aborts the stream with EINVAL, and close() resets", test_bad_length),
	TEST("recv: short buffer truncates, MSG_TRUNC", test_trunc),
	TEST("recv: MSG_PEEK", test_peek),
	TEST("recv: non-blocking EAGAIN", test_nonblock),
	TEST("recv: 0 after the peer closes", test_peer_close),
	TEST("send: EMSGSIZE, EOPNOTSUPP", test_send_errors),
	TEST("send: sendfile refused", test_sendfile),
	TEST("setsockopt: EEXIST, listen, UDP", test_setsockopt_rules),
	TEST("poll: POLLIN only for whole messages", test_poll),
	TEST("send: non-blocking EAGAIN, nothing lost", test_send_eagain),
	TEST("send: a held message is charged to the sender's memcg",
	     test_send_memcg),
	TEST("send: blocking, slow reader, nothing dropped",
	     test_send_blocking),
	TEST("send and recv from four tasks at once", test_duplex),
	TEST("close with queues full", test_close_busy),
	TEST("poll: POLLOUT arrives once TCP can send again",
	     test_poll_write_space),
	TEST("recv: every message before EOF", test_recv_before_eof),
	TEST("recv: every message before EOF, parser paused",
	     test_recv_before_eof_paused),
	TEST("recv: a message larger than SO_RCVBUF, slower than SO_RCVTIMEO",
	     test_recv_big_slow),
	TEST("disconnect: connect(AF_UNSPEC) refused", test_disconnect),
	TEST("send and poll on a socket still connecting", test_connecting),
	TEST("recv: MSG_OOB and MSG_ERRQUEUE do not consume IKE messages",
	     test_recv_flags),
	TEST_ONCE("rmmod refused while in use", test_unload_busy),
};

const unsigned int n_tests = sizeof(tests) / sizeof(tests[0]);
