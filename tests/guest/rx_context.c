// SPDX-License-Identifier: GPL-2.0
/*
 * The context the receive path runs in, asserted as the rewrite of the
 * receive path defines it (tests/guest/22-rx-context.sh runs it):
 *
 *   oob    recv(MSG_OOB) is EINVAL at once, even with urgent data queued,
 *          and MSG_ERRQUEUE still TCP's (EAGAIN); urgent data from the peer
 *          cannot be framed: the messages before it, then EPROTO, counted
 *          once in rx_stream_errors
 *   zc     getsockopt(TCP_ZEROCOPY_RECEIVE) is EOPNOTSUPP and mmap() ENODEV:
 *          neither reads TCP's bytes behind the parser
 *   taken  neither KCM nor a sockmap takes an espintcp socket, which still
 *          carries IKE both ways afterwards (root: BPF)
 *   hold   threads stuck in user copies (userfaultfd; root) hold the locks
 *          of two espintcp sockets: no other socket's messages or EOF wait
 *          for them, recv(MSG_OOB) on them does not either, and once they
 *          are released everything sent meanwhile arrives
 *   self   run in a user and network namespace of its own (unshare -Urn,
 *          as an unprivileged user): ESP from the stream, cipher_null in
 *          transport mode, whose inner TCP segment is for the very
 *          connection that carried it. The kernel survives, the segment
 *          reaches that connection (or TCP drops it), the connection goes on.
 *
 * Usage: rx_context PART...	oob, zc, taken and hold want netns cli and
 *				srv (topo_up); self wants a netns of its own
 * One TAP line per check and family, diagnostics ("# ") before it.
 */
#include "lib/harness.h"

#include <linux/bpf.h>
#include <linux/kcm.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sys/mman.h>

#define MSG_LEN 300
#define C_MSGS 40	/* hold: what C's peer sends */
#define ZC_MSGS 20	/* zc: what the paused socket's peer sends */
#define WATCHDOG 200	/* s, the whole run */

static int nfail;
static double t_start;
static const char *running = "start";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *fam_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* one TAP line for what was checked since the last one */
static void result(const char *name, int family)
{
	if (skip_reason && !failed)
		printf("ok - %s [%s] # SKIP %s\n", name, fam_name(family),
		       skip_reason);
	else
		printf("%sok - %s [%s]\n", failed ? "not " : "", name,
		       fam_name(family));
	nfail += failed;
	diag("(%.1f s into the run)", now() - t_start);
	failed = false;
	skip_reason = NULL;
}

static void on_alarm(int sig)
{
	static const char a[] = "not ok - rx_context finished within the watchdog's time: hung in ";

	(void)sig;
	if (write(1, a, sizeof(a) - 1) < 0 ||
	    write(1, running, strlen(running)) < 0 || write(1, "\n", 1) < 0)
		_exit(2);
	_exit(2);
}

/* waits up to @ms for POLLIN (or an error), then a non-blocking recv */
static ssize_t recv_within(int fd, void *buf, size_t len, int flags, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return recv(fd, buf, len, flags | MSG_DONTWAIT);
}

/* the IKE message fill_ike(@seed) of MSG_LEN bytes, within @ms */
static bool got_msg(int fd, unsigned int seed, int ms, const char *what, int i)
{
	uint8_t want[MSG_LEN], got[MSG_LEN + 64];
	ssize_t n;

	fill_ike(want, MSG_LEN, seed);
	errno = 0;
	n = recv_within(fd, got, sizeof(got), 0, ms);
	if (n == MSG_LEN && !memcmp(got, want, MSG_LEN))
		return true;
	diag("%s: message %d: recv = %zd (%s)%s", what, i, n,
	     n < 0 ? strerror(errno) : "-",
	     n == MSG_LEN ? ", other bytes" : "");
	return false;
}

/* @n framed messages of MSG_LEN bytes, seeds @seed.. */
static size_t frames(uint8_t *out, unsigned int seed, int n)
{
	uint8_t m[MSG_LEN];
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++) {
		fill_ike(m, MSG_LEN, seed + i);
		len += put_frame(out + len, m, MSG_LEN);
	}
	return len;
}

/* until what @fd sent is acked (SIOCOUTQ 0), at most @ms */
static bool sent_acked(int fd, int ms)
{
	double end = now() + ms / 1000.0;
	int n;

	do {
		if (!ioctl(fd, SIOCOUTQ, &n) && n == 0)
			return true;
		usleep(10000);
	} while (now() < end);
	return false;
}

/* the prefix a plain TCP peer sends: it stays plain TCP */
static bool plain_start(int c)
{
	return send(c, "IKETCP", 6, 0) == 6;
}

/* one IKE message each way, each within @ms; @c is the peer, plain TCP */
static bool ike_both_ways(int c, int s, unsigned int seed, int ms)
{
	uint8_t m[MSG_LEN], f[MSG_LEN + 2], got[65536];
	ssize_t n;
	bool ok;

	fill_ike(m, MSG_LEN, seed);
	n = put_frame(f, m, MSG_LEN);
	ok = CHECK(send(c, f, n, 0) == n, "peer's send: %s", strerror(errno));
	ok = CHECK(got_msg(s, seed, ms, "peer to espintcp", 0),
		   "an IKE message from the peer did not arrive") && ok;
	fill_ike(m, MSG_LEN, seed + 1);
	ok = CHECK(send(s, m, MSG_LEN, 0) == MSG_LEN, "espintcp send: %s",
		   strerror(errno)) && ok;
	n = readable(c, ms) ? read_frame(c, got) : -1;
	ok = CHECK(n == MSG_LEN && !memcmp(got, m, MSG_LEN),
		   "espintcp to peer: frame of %zd bytes, want the message's %d",
		   n, MSG_LEN) && ok;
	return ok;
}

/* --- jobs: a blocking call in a thread, watched from the main thread ----- */

struct job {
	pthread_t th;
	void (*fn)(struct job *);
	int fd, flags;
	void *buf;
	size_t len;
	long ret;
	int err;
	int stage;	/* the B reader's progress */
	int done;
	bool started;
	double t0, t1;
};

static void *job_main(void *arg)
{
	struct job *j = arg;

	j->fn(j);
	j->t1 = now();
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void job_start(struct job *j, void (*fn)(struct job *))
{
	j->fn = fn;
	j->done = 0;
	j->t0 = now();
	j->started = !pthread_create(&j->th, NULL, job_main, j);
	if (!j->started) {
		diag("pthread_create failed");
		failed = true;
	}
}

static bool job_done(struct job *j)
{
	return j->started && __atomic_load_n(&j->done, __ATOMIC_ACQUIRE);
}

/* whether @j is done within @ms */
static bool job_wait(struct job *j, int ms)
{
	double end = now() + ms / 1000.0;

	while (!job_done(j)) {
		if (!j->started || now() >= end)
			return false;
		usleep(5000);
	}
	return true;
}

static const char *job_str(struct job *j)
{
	static char s[4][96];
	static int k;
	char *p = s[k++ % 4];

	if (!j->started)
		snprintf(p, 96, "not started");
	else if (!job_done(j))
		snprintf(p, 96, "still blocked after %.1f s", now() - j->t0);
	else
		snprintf(p, 96, "returned %ld%s%s after %.2f s", j->ret,
			 j->ret < 0 ? " " : "",
			 j->ret < 0 ? strerror(j->err) : "", j->t1 - j->t0);
	return p;
}

/* joins @j if it is done; leaves it be (detached) if it never returned */
static bool job_reap(struct job *j)
{
	bool done = job_done(j);

	if (!j->started)
		return true;
	if (done)
		pthread_join(j->th, NULL);
	else
		pthread_detach(j->th);
	j->started = false;
	return done;
}

static void do_md5(struct job *j)
{
	errno = 0;
	j->ret = setsockopt(j->fd, IPPROTO_TCP, TCP_MD5SIG, j->buf, j->len);
	j->err = errno;
}

static void do_recv(struct job *j)
{
	errno = 0;
	j->ret = recv(j->fd, j->buf, j->len, j->flags);
	j->err = errno;
}

static void do_send(struct job *j)
{
	size_t off = 0;
	ssize_t n;

	while (off < j->len) {
		n = send(j->fd, (uint8_t *)j->buf + off, j->len - off, 0);
		if (n <= 0) {
			j->ret = -1;
			j->err = errno;
			return;
		}
		off += n;
	}
	j->ret = off;
}

/*
 * B's reader: its two messages (seeds 200, 201), the peer's FIN, then
 * recv(MSG_DONTWAIT), which must say EOF at once: stage 1 once it has the
 * messages, 2 once it saw the FIN and called recv (t0 is reset there).
 */
static void do_b_reader(struct job *j)
{
	uint8_t got[512];
	struct pollfd p;
	int i;

	for (i = 0; i < 2; i++) {
		if (!got_msg(j->fd, 200 + i, 5000, "B", i)) {
			j->ret = -100 - i;
			return;
		}
	}
	j->stage = 1;
	p = (struct pollfd){ .fd = j->fd, .events = POLLRDHUP };
	if (poll(&p, 1, 5000) != 1 || !(p.revents & POLLRDHUP)) {
		diag("B: no POLLRDHUP within 5 s (revents %#x)", p.revents);
		j->ret = -110;
		return;
	}
	j->t0 = now();
	j->stage = 2;
	errno = 0;
	j->ret = recv(j->fd, got, sizeof(got), MSG_DONTWAIT);
	j->err = errno;
}

/* --- userfaultfd: a page nobody serves until uffd_release() --------------- */

struct uffd_area {
	int fd;
	size_t ps;
	uint8_t *base;	/* two pages: the first present, the second missing */
};

static bool uffd_setup(struct uffd_area *u)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

	u->ps = sysconf(_SC_PAGESIZE);
	u->base = MAP_FAILED;
	u->fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->fd < 0) {
		diag("userfaultfd: %s", strerror(errno));
		return false;
	}
	if (ioctl(u->fd, UFFDIO_API, &api)) {
		diag("UFFDIO_API: %s", strerror(errno));
		return false;
	}
	u->base = mmap(NULL, 2 * u->ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->base == MAP_FAILED)
		return false;
	memset(u->base, 0, u->ps);
	reg.range.start = (unsigned long)(u->base + u->ps);
	reg.range.len = u->ps;
	if (ioctl(u->fd, UFFDIO_REGISTER, &reg)) {
		diag("UFFDIO_REGISTER: %s", strerror(errno));
		return false;
	}
	return true;
}

/* a thread faulted on the missing page within @ms */
static bool uffd_fault(struct uffd_area *u, int ms)
{
	struct pollfd p = { .fd = u->fd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&p, 1, ms) != 1)
		return false;
	return read(u->fd, &msg, sizeof(msg)) == sizeof(msg) &&
	       msg.event == UFFD_EVENT_PAGEFAULT;
}

/* the missing page, zero-filled: every thread faulting on it goes on */
static bool uffd_release(struct uffd_area *u)
{
	static uint8_t zero[65536];
	struct uffdio_copy cp = {
		.dst = (unsigned long)(u->base + u->ps),
		.src = (unsigned long)zero,
		.len = u->ps,
	};

	if (u->fd < 0)
		return true;
	if (ioctl(u->fd, UFFDIO_COPY, &cp) && errno != EEXIST) {
		diag("UFFDIO_COPY: %s", strerror(errno));
		return false;
	}
	close(u->fd);
	u->fd = -1;
	return true;
}

/* --- oob: urgent data and the recv flags that go to TCP ------------------- */

static void test_oob(int family)
{
	static uint8_t buf[4 * (MSG_LEN + 2)];
	struct timeval tmo = { .tv_sec = 2 };
	struct ctr err = ctr(SRV, "rx_stream_errors");
	static const struct {
		int flags, err;
		const char *name;
	} flags[] = {
		{ MSG_OOB | MSG_PEEK, EINVAL, "MSG_OOB|MSG_PEEK" },
		{ MSG_OOB, EINVAL, "MSG_OOB" },
		{ MSG_ERRQUEUE | MSG_DONTWAIT, EAGAIN, "MSG_ERRQUEUE" },
	};
	struct pollfd p;
	unsigned int i;
	uint8_t got[512];
	double t;
	int c, s;
	ssize_t n;
	size_t len;

	running = "oob";
	if (espintcp_pair(family, ULP_SRV, &c, &s)) {
		failed = true;
		result("urgent data: setup", family);
		return;
	}
	/* a recv() that waits would not wait for ever */
	MUST(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)));
	len = frames(buf, 1, 2);
	CHECK(send(c, buf, len, 0) == (ssize_t)len, "send: %s", strerror(errno));
	CHECK(send(c, "!", 1, MSG_OOB) == 1, "send(MSG_OOB): %s", strerror(errno));
	len = frames(buf, 3, 1);
	CHECK(send(c, buf, len, 0) == (ssize_t)len, "send: %s", strerror(errno));
	CHECK(sent_acked(c, 2000), "the peer's bytes not all acked after 2 s");

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		got[0] = 0;
		t = now();
		errno = 0;
		n = recv(s, got, sizeof(got), flags[i].flags);
		t = now() - t;
		CHECK(n == -1 && errno == flags[i].err && t < 1,
		      "recv(%s) with urgent data queued = %zd (%s)%s%c%s after %.2f s, want -1 %s at once",
		      flags[i].name, n, n < 0 ? strerror(errno) : "-",
		      n > 0 ? ", byte '" : "", n > 0 ? got[0] : ' ',
		      n > 0 ? "'" : "", t, strerror(flags[i].err));
	}
	result("recv(MSG_OOB) with urgent data queued: EINVAL at once; MSG_ERRQUEUE: EAGAIN",
	       family);

	for (i = 0; i < 2; i++)
		CHECK(got_msg(s, 1 + i, 2000, "before the urgent byte", i),
		      "message %u before the urgent byte not delivered", i + 1);
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	poll(&p, 1, 2000);
	errno = 0;
	n = recv(s, got, sizeof(got), MSG_DONTWAIT);
	CHECK(n == -1 && errno == EPROTO,
	      "after the messages before the urgent byte: poll revents %#x, recv = %zd (%s), want -1 EPROTO; %d bytes left in TCP",
	      p.revents, n, n < 0 ? strerror(errno) : "-", inq(s));
	CHECK_DELTA(err, 1);
	result("urgent data from the peer: the messages before it, then EPROTO, rx_stream_errors 1",
	       family);
	close2(c, s);
}

/* --- zc: TCP's own ways to read the stream ------------------------------ */

/* struct tcp_zerocopy_receive of <linux/tcp.h> (6.1), which clashes with
 * <netinet/tcp.h> */
struct zc_receive {
	uint64_t address;
	uint32_t length;
	uint32_t recv_skip_hint;
	uint32_t inq;
	int32_t err;
	uint64_t copybuf_address;
	int32_t copybuf_len;
	uint32_t flags;
	uint64_t msg_control;
	uint64_t msg_controllen;
	uint32_t msg_flags;
	uint32_t reserved;
};

static void test_zc(int family)
{
	static uint8_t buf[ZC_MSGS * (MSG_LEN + 2)], copybuf[65536];
	struct ctr pauses = ctr(SRV, "rx_paused");
	struct zc_receive zc = {
		.copybuf_address = (uintptr_t)copybuf,
		.copybuf_len = sizeof(copybuf),
	};
	socklen_t zlen = sizeof(zc);
	struct job sender = { 0 };
	int c, s, zero = 0, i, in0, r, e;
	long ps = sysconf(_SC_PAGESIZE);
	double end;
	void *map;

	running = "zc";
	if (tcp_pair(family, &c, &s)) {
		failed = true;
		result("getsockopt(TCP_ZEROCOPY_RECEIVE): setup", family);
		return;
	}
	/* a parser paused on a full queue leaves bytes in TCP */
	MUST(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &zero, sizeof(zero)));
	if (!plain_start(c) || server_start(s) < 0)
		diag("prefix and ULP: %s", strerror(errno));
	sender.fd = c;
	sender.buf = buf;
	sender.len = frames(buf, 400, ZC_MSGS);
	job_start(&sender, do_send);
	end = now() + 2;
	while (inq(s) <= 0 && now() < end)
		usleep(10000);
	in0 = inq(s);
	diag("%d bytes in TCP unparsed (rx_paused %+ld)", in0, delta(&pauses));

	errno = 0;
	r = getsockopt(s, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &zlen);
	e = errno;
	CHECK(r == -1 && e == EOPNOTSUPP,
	      "getsockopt(TCP_ZEROCOPY_RECEIVE) = %d (%s), want -1 EOPNOTSUPP; copybuf_len %d (bytes TCP handed out), length %u, inq %u, err %d; TCP held %d bytes before, %d after",
	      r, r ? strerror(e) : "-", zc.copybuf_len, zc.length, zc.inq,
	      zc.err, in0, inq(s));
	for (i = 0; i < ZC_MSGS; i++)
		if (!CHECK(got_msg(s, 400 + i, 2000, "after TCP_ZEROCOPY_RECEIVE", i),
			   "%d of %d messages arrived in order", i, ZC_MSGS))
			break;
	job_wait(&sender, 2000);
	result("getsockopt(TCP_ZEROCOPY_RECEIVE): EOPNOTSUPP, and every message TCP held arrives",
	       family);

	errno = 0;
	map = mmap(NULL, ps, PROT_READ, MAP_SHARED, s, 0);
	e = errno;
	CHECK(map == MAP_FAILED && e == ENODEV,
	      "mmap of the socket: %s, want ENODEV",
	      map == MAP_FAILED ? strerror(e) : "mapped");
	if (map != MAP_FAILED)
		munmap(map, ps);
	result("mmap() of the socket: ENODEV", family);

	close2(c, s);
	job_reap(&sender);
}

/* --- taken: KCM and sockmap --------------------------------------------- */

static int bpf_sys(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* a socket filter returning 0: to KCM, "need more bytes" */
static int prog_load(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = 2;
	a.license = (uintptr_t)"GPL";
	return bpf_sys(BPF_PROG_LOAD, &a);
}

static void test_kcm(int family)
{
	struct kcm_attach at;
	struct kcm_unattach un;
	int c, s, kcm, prog, r, e;

	running = "taken: KCM";
	diag("KCM needs root here: a BPF program (kernel.unprivileged_bpf_disabled)");
	prog = prog_load();
	if (prog < 0) {
		diag("BPF_PROG_LOAD: %s", strerror(errno));
		skip_reason = "cannot load a BPF socket filter (needs root: CAP_BPF)";
		result("KCM cannot attach to an espintcp socket", family);
		return;
	}
	kcm = socket(AF_KCM, SOCK_DGRAM, KCMPROTO_CONNECTED);
	if (kcm < 0) {
		diag("socket(AF_KCM): %s", strerror(errno));
		skip_reason = "no KCM in this kernel (socket(AF_KCM) failed)";
		close(prog);
		result("KCM cannot attach to an espintcp socket", family);
		return;
	}
	if (espintcp_pair(family, ULP_SRV, &c, &s)) {
		failed = true;
		goto out;
	}
	at = (struct kcm_attach){ .fd = s, .bpf_fd = prog };
	errno = 0;
	r = ioctl(kcm, SIOCKCMATTACH, &at);
	e = errno;
	diag("SIOCKCMATTACH of the espintcp socket = %d (%s)", r,
	     r ? strerror(e) : "attached");
	CHECK(r == -1, "KCM attached to the espintcp socket");
	ike_both_ways(c, s, 500, 2000);
	if (!r) {
		un = (struct kcm_unattach){ .fd = s };
		if (ioctl(kcm, SIOCKCMUNATTACH, &un))
			diag("SIOCKCMUNATTACH: %s", strerror(errno));
	}
	close2(c, s);
out:
	close(kcm);
	close(prog);
	result("KCM cannot attach to an espintcp socket, which still carries IKE both ways",
	       family);
}

static void test_sockmap(int family)
{
	union bpf_attr a;
	uint32_t key = 0, val;
	int c, s, map, r, e;

	running = "taken: sockmap";
	diag("a sockmap needs root here (BPF)");
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_SOCKMAP;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	map = bpf_sys(BPF_MAP_CREATE, &a);
	if (map < 0) {
		diag("BPF_MAP_CREATE(SOCKMAP): %s", strerror(errno));
		skip_reason = errno == EPERM ?
			"cannot create a sockmap (needs root: CAP_BPF)" :
			"no sockmap in this kernel (BPF_MAP_CREATE failed)";
		result("a sockmap cannot take an espintcp socket", family);
		return;
	}
	if (espintcp_pair(family, ULP_SRV, &c, &s)) {
		failed = true;
		close(map);
		result("a sockmap cannot take an espintcp socket", family);
		return;
	}
	val = s;
	memset(&a, 0, sizeof(a));
	a.map_fd = map;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)&val;
	a.flags = BPF_ANY;
	errno = 0;
	r = bpf_sys(BPF_MAP_UPDATE_ELEM, &a);
	e = errno;
	diag("BPF_MAP_UPDATE_ELEM of the espintcp socket = %d (%s)", r,
	     r ? strerror(e) : "inserted");
	CHECK(r == -1, "the espintcp socket went into a sockmap");
	ike_both_ways(c, s, 510, 2000);
	if (!r) {
		memset(&a, 0, sizeof(a));
		a.map_fd = map;
		a.key = (uintptr_t)&key;
		if (bpf_sys(BPF_MAP_DELETE_ELEM, &a))
			diag("BPF_MAP_DELETE_ELEM: %s", strerror(errno));
	}
	close2(c, s);
	close(map);
	result("a sockmap cannot take an espintcp socket, which still carries IKE both ways",
	       family);
}

/* --- hold: socket locks held by threads stuck in user copies ------------- */

/*
 * A1 and A2 are held by setsockopt(TCP_MD5SIG) threads whose tcp_md5sig
 * runs into the missing page: md5_parse copies it under the socket lock
 * (the int copied before the lock is on the present page). A1's peer sends
 * two messages meanwhile; A2's peer had closed before, and a reader waits
 * on A2 for its EOF. A3's peer sent an urgent byte: recv(MSG_OOB|MSG_PEEK)
 * into the missing page. B and C are not held by anyone.
 */
static void test_hold(int family)
{
	static uint8_t cbuf[C_MSGS * (MSG_LEN + 2)], abuf[2 * (MSG_LEN + 2)],
		       bbuf[2 * (MSG_LEN + 2)];
	static uint8_t r2buf[512], o1buf[8], e1buf[512];
	struct job t1 = { 0 }, t2 = { 0 }, r2 = { 0 }, o1 = { 0 }, o3 = { 0 },
		   e1 = { 0 }, bj = { 0 }, cj = { 0 };
	struct uffd_area u = { .fd = -1 };
	int a[3] = { -1, -1, -1 }, pa[3] = { -1, -1, -1 };
	int b = -1, pb = -1, cs = -1, pc = -1, zero = 0, i, n, late;
	struct ctr pauses = ctr(SRV, "rx_paused");
	struct tcp_md5sig *md5;
	const char *t = "hold";
	struct pollfd p;
	bool all;

	running = "hold: setup";
	diag("needs root: userfaultfd that catches the kernel's own copies (vm.unprivileged_userfaultfd is 0)");
	for (i = 0; i < 3; i++)
		if (espintcp_pair(family, ULP_SRV, &pa[i], &a[i]))
			failed = true;
	if (espintcp_pair(family, ULP_SRV, &pb, &b) || tcp_pair(family, &pc, &cs))
		failed = true;
	if (failed)
		goto setup_failed;
	/* C: a small receive buffer, set before the ULP */
	MUST(setsockopt(cs, SOL_SOCKET, SO_RCVBUF, &zero, sizeof(zero)));
	if (!plain_start(pc) || server_start(cs) < 0) {
		diag("C: prefix and ULP: %s", strerror(errno));
		goto setup_failed;
	}
	/* A2's peer closes; A3's sends an urgent byte */
	MUST(shutdown(pa[1], SHUT_WR));
	p = (struct pollfd){ .fd = a[1], .events = POLLRDHUP };
	CHECK(poll(&p, 1, 2000) == 1 && (p.revents & POLLRDHUP),
	      "A2: no POLLRDHUP (revents %#x)", p.revents);
	CHECK(send(pa[2], "!", 1, MSG_OOB) == 1, "send(MSG_OOB): %s",
	      strerror(errno));
	CHECK(sent_acked(pa[2], 2000), "A3: the urgent byte not acked after 2 s");

	if (!uffd_setup(&u)) {
		if (errno == EPERM)
			skip_reason = "userfaultfd refused (needs root: vm.unprivileged_userfaultfd is 0)";
		else if (errno == ENOSYS)
			skip_reason = "this kernel has no userfaultfd (CONFIG_USERFAULTFD)";
		else
			failed = true;
		goto setup_failed;
	}
	md5 = (struct tcp_md5sig *)(u.base + u.ps - 8);
	t1.fd = a[0];
	t2.fd = a[1];
	t1.buf = t2.buf = md5;
	t1.len = t2.len = sizeof(*md5);
	job_start(&t1, do_md5);
	CHECK(uffd_fault(&u, 2000), "setsockopt(A1, TCP_MD5SIG) did not fault on the page: %s",
	      job_str(&t1));
	job_start(&t2, do_md5);
	CHECK(uffd_fault(&u, 2000), "setsockopt(A2, TCP_MD5SIG) did not fault on the page: %s",
	      job_str(&t2));
	if (failed)
		goto setup_failed;
	diag("A1 and A2 held by threads stuck in setsockopt(TCP_MD5SIG)");
	result("hold: setsockopt(TCP_MD5SIG) from a userfaultfd page holds two sockets' locks (setup)",
	       family);

	/* meanwhile: two messages to A1, a reader for A2's EOF */
	n = frames(abuf, 100, 2);
	CHECK(send(pa[0], abuf, n, 0) == n, "A1's peer: send: %s", strerror(errno));
	r2.fd = a[1];
	r2.buf = r2buf;
	r2.len = sizeof(r2buf);
	job_start(&r2, do_recv);
	usleep(300000);
	diag("A2's reader (recv at EOF while A2 is held): %s", job_str(&r2));

	running = "hold: recv(MSG_OOB)";
	o1.fd = e1.fd = a[0];
	o1.buf = o1buf;
	o1.len = 1;
	o1.flags = MSG_OOB;
	job_start(&o1, do_recv);
	o3.fd = a[2];
	o3.buf = u.base + u.ps;
	o3.len = 1;
	o3.flags = MSG_OOB | MSG_PEEK;
	job_start(&o3, do_recv);
	e1.buf = e1buf;
	e1.len = sizeof(e1buf);
	e1.flags = MSG_ERRQUEUE;
	job_start(&e1, do_recv);
	job_wait(&o1, 1000);
	job_wait(&o3, 1000);
	job_wait(&e1, 1000);
	CHECK(job_done(&o1) && o1.ret == -1 && o1.err == EINVAL,
	      "recv(A1, MSG_OOB), A1 held: %s, want -1 EINVAL at once",
	      job_str(&o1));
	CHECK(job_done(&o3) && o3.ret == -1 && o3.err == EINVAL,
	      "recv(A3, MSG_OOB|MSG_PEEK) into the missing page, urgent byte queued: %s, want -1 EINVAL at once",
	      job_str(&o3));
	result("hold: recv(MSG_OOB) returns EINVAL at once: on a held socket, and with urgent data into a userfaultfd page",
	       family);
	CHECK(job_done(&e1) && e1.ret == -1 && e1.err == EAGAIN,
	      "recv(A1, MSG_ERRQUEUE), A1 held: %s, want -1 EAGAIN at once",
	      job_str(&e1));
	result("hold: recv(MSG_ERRQUEUE) on a held socket: EAGAIN at once (TCP's)",
	       family);

	running = "hold: B";
	n = frames(bbuf, 200, 2);
	CHECK(send(pb, bbuf, n, 0) == n, "B's peer: send: %s", strerror(errno));
	MUST(shutdown(pb, SHUT_WR));
	bj.fd = b;
	job_start(&bj, do_b_reader);
	for (i = 0; i < 600 && !job_done(&bj) && bj.stage < 2; i++)
		usleep(10000);
	if (CHECK(bj.stage == 2, "B's reader did not get its 2 messages and the FIN: %s",
		  job_str(&bj))) {
		job_wait(&bj, 1000);
		CHECK(job_done(&bj) && bj.ret == 0,
		      "recv(B, MSG_DONTWAIT) after the FIN: %s, want 0 (EOF) within 1 s",
		      job_str(&bj));
	}
	result("hold: B gets its 2 messages, then EOF from recv(MSG_DONTWAIT) within 1 s, while A1 and A2 are held",
	       family);

	running = "hold: C";
	cj.fd = pc;
	cj.buf = cbuf;
	cj.len = frames(cbuf, 300, C_MSGS);
	job_start(&cj, do_send);
	for (i = 0; i < 200 && delta(&pauses) < 1; i++)
		usleep(10000);
	diag("C: the parser paused %ld times before C was read (SO_RCVBUF 0)",
	     delta(&pauses));
	for (n = 0; n < C_MSGS; n++)
		if (!got_msg(cs, 300 + n, 2000, "C", n))
			break;
	CHECK(n == C_MSGS, "C: %d of %d messages delivered in order while A1 and A2 were held",
	      n, C_MSGS);
	result("hold: C, paused on a full IKE queue, gets all 40 messages in order while A1 and A2 are held",
	       family);

	running = "hold: release";
	t = "hold: once the page is served: the stuck calls return, A1 gets the 2 messages sent meanwhile, A2's reader EOF";
	uffd_release(&u);
	all = job_wait(&t1, 5000) & job_wait(&t2, 5000);
	diag("setsockopt(A1): %s; setsockopt(A2): %s", job_str(&t1),
	     job_str(&t2));
	CHECK(all, "a setsockopt(TCP_MD5SIG) thread never returned");
	for (i = 0; i < 2; i++)
		CHECK(got_msg(a[0], 100 + i, 5000, "A1 after the release", i),
		      "A1: message %d sent while A1 was held never arrived", i);
	job_wait(&r2, 5000);
	CHECK(job_done(&r2) && r2.ret == 0, "A2's reader: %s, want 0 (EOF)",
	      job_str(&r2));
	for (i = 0; i < 3; i++)
		job_wait(i == 0 ? &o1 : i == 1 ? &o3 : &e1, 2000);
	job_wait(&bj, 5000);
	diag("after the release: recv(A1, MSG_OOB) %s; recv(A3, MSG_OOB|MSG_PEEK) %s (byte %#x); recv(A1, MSG_ERRQUEUE) %s; B's recv(MSG_DONTWAIT) %s",
	     job_str(&o1), job_str(&o3), job_done(&o3) && o3.ret == 1 ?
	     u.base[u.ps] : 0, job_str(&e1), job_str(&bj));
	for (late = 0; n < C_MSGS; n++, late++)
		if (!got_msg(cs, 300 + n, 3000, "C after the release", n))
			break;
	diag("C: %d more messages after the release, %d of %d in all", late, n,
	     C_MSGS);
	job_wait(&cj, 3000);
	result(t, family);
	goto out;

setup_failed:
	result("hold: setsockopt(TCP_MD5SIG) from a userfaultfd page holds two sockets' locks (setup)",
	       family);
	uffd_release(&u);
out:
	all = true;
	for (i = 0; i < 8; i++)
		all &= job_reap((struct job *[]){ &t1, &t2, &r2, &o1, &o3, &e1,
						  &bj, &cj }[i]);
	if (!all)
		diag("a thread is still blocked: its sockets stay open");
	else if (u.base != MAP_FAILED && u.base)
		munmap(u.base, 2 * u.ps);
	if (all) {
		for (i = 0; i < 3; i++)
			close2(a[i], pa[i]);
		close2(b, pb);
		close2(cs, pc);
	}
}

/* --- self: ESP from the stream whose inner segment is for its connection -- */

static const char *self_addr(int family)
{
	return family == AF_INET ? "10.9.0.1" : "fd00:9::1";
}

/* runs a shell command, its output as diagnostics; its exit status */
static int sh(const char *fmt, ...)
{
	char cmd[512], line[512];
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	fflush(stdout);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		printf("#   %s", line);
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static long kv_get(const char *file, const char *name)
{
	char key[64];
	long v;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &v) == 2) {
		if (!strcmp(key, name)) {
			fclose(f);
			return v;
		}
	}
	fclose(f);
	return -1;
}

/* a TcpExt counter of /proc/net/netstat (a line of names, one of values) */
static long tcpext(const char *name)
{
	static char names[8192], vals[8192];
	char *np, *vp, *n, *v;
	long ret = -1;
	FILE *f = fopen("/proc/net/netstat", "r");

	if (!f)
		return -1;
	while (fgets(names, sizeof(names), f) && fgets(vals, sizeof(vals), f)) {
		if (strncmp(names, "TcpExt:", 7))
			continue;
		n = strtok_r(names, " \n", &np);
		v = strtok_r(vals, " \n", &vp);
		while (n && v) {
			if (!strcmp(n, name))
				ret = atol(v);
			n = strtok_r(NULL, " \n", &np);
			v = strtok_r(NULL, " \n", &vp);
		}
	}
	fclose(f);
	return ret;
}

/* packets the state with @spi took in (ip -s xfrm state) */
static long state_packets(unsigned int spi)
{
	char cmd[128], line[256];
	long bytes, pkts = -1;
	bool ours = false, cur = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip -s xfrm state 2>/dev/null");
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned int s;
		char *p = strstr(line, "spi 0x");

		if (p && sscanf(p, "spi 0x%x", &s) == 1)
			ours = s == spi;
		if (strstr(line, "lifetime current:"))
			cur = true;
		else if (cur && ours &&
			 sscanf(line, " %ld(bytes), %ld(packets)", &bytes, &pkts) == 2)
			cur = false;
		else
			cur = false;
	}
	pclose(f);
	return pkts;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += p[i] << 8 | p[i + 1];
	if (n & 1)
		s += p[n - 1] << 8;
	return s;
}

/* the TCP checksum of @seg from @src to @dst (4 or 16 bytes each) */
static uint16_t tcp_csum(int family, const uint8_t *src, const uint8_t *dst,
			 const uint8_t *seg, size_t len)
{
	size_t alen = family == AF_INET ? 4 : 16;
	uint8_t tail[8] = { 0 };
	uint32_t s = 0;

	s = sum16(s, src, alen);
	s = sum16(s, dst, alen);
	if (family == AF_INET) {
		tail[1] = IPPROTO_TCP;
		put16(tail + 2, len);
		s = sum16(s, tail, 4);
	} else {
		put32(tail, len);
		tail[7] = IPPROTO_TCP;
		s = sum16(s, tail, 8);
	}
	s = sum16(s, seg, len);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

/* @fd's next sequence number to send and to receive, through TCP_REPAIR */
static bool tcp_seqs(int fd, uint32_t *snd, uint32_t *rcv)
{
	int on = TCP_REPAIR_ON, off = TCP_REPAIR_OFF_NO_WP, q;
	socklen_t len = sizeof(*snd);
	bool ok;

	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)))
		return false;
	q = TCP_SEND_QUEUE;
	ok = !setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) &&
	     !getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, snd, &len);
	q = TCP_RECV_QUEUE;
	len = sizeof(*rcv);
	ok = ok && !setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) &&
	     !getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, rcv, &len);
	setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
	return ok;
}

static int self_pair(int family, int *c, int *s)
{
	struct sockaddr_storage ls, cs;
	socklen_t len, clen;
	int l;

	*c = *s = -1;
	l = socket(family, SOCK_STREAM, 0);
	len = sockaddr_fill(family, self_addr(family), 0, &ls);
	if (l < 0 || bind(l, (struct sockaddr *)&ls, len) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&ls, &len))
		goto err;
	*c = socket(family, SOCK_STREAM, 0);
	clen = sockaddr_fill(family, self_addr(family), 0, &cs);
	if (*c < 0 || bind(*c, (struct sockaddr *)&cs, clen) ||
	    connect(*c, (struct sockaddr *)&ls, len))
		goto err;
	*s = accept(l, NULL, NULL);
	if (*s < 0 || !plain_start(*c) || server_start(*s) < 0)
		goto err;
	close(l);
	return 0;
err:
	diag("the connection: %s", strerror(errno));
	close(l);
	return -1;
}

static void test_self(int family)
{
	const unsigned int spi = family == AF_INET ? 0x4001 : 0x6001;
	uint8_t addr[16], seg[20 + 5], esp[64], frame[66];
	long esp0, dal0, pk0, esp1 = 0, dal1 = 0, pk1 = 0;
	uint32_t snd = 0, rcv = 0;
	int c, s, st, cport, sport, pad, i, err = 0;
	socklen_t elen = sizeof(err);
	size_t n, elen_esp;
	bool seqs;
	pid_t pid;

	running = "self";
	if (self_pair(family, &c, &s)) {
		diag("is espintcp loaded? An unprivileged user cannot have TCP_ULP load it");
		failed = true;
		result("self-delivery: an espintcp connection in the namespace", family);
		return;
	}
	cport = port_of(c, false);
	sport = port_of(s, false);
	ike_both_ways(c, s, 600, 3000);
	result("self-delivery: an espintcp connection as uid 65534 in its own namespaces carries IKE",
	       family);
	if (sh("ip xfrm state add src %s dst %s proto esp spi %#x mode transport enc cipher_null \"\" encap espintcp %d %d 0.0.0.0",
	       self_addr(family), self_addr(family), spi, cport, sport)) {
		failed = true;
		result("self-delivery: a cipher_null transport state with encap espintcp",
		       family);
		close2(c, s);
		return;
	}

	/* the inner segment: 5 bytes of old data for the outer connection */
	CHECK(sent_acked(c, 2000), "the peer's bytes not all acked after 2 s");
	seqs = tcp_seqs(c, &snd, &rcv);
	if (!seqs)
		diag("TCP_REPAIR: %s: the inner segment's numbers are made up",
		     strerror(errno));
	inet_pton(family, self_addr(family), addr);
	memset(seg, 0, sizeof(seg));
	put16(seg, cport);
	put16(seg + 2, sport);
	put32(seg + 4, snd - 100000);	/* long acked: out of window */
	put32(seg + 8, rcv);
	seg[12] = 5 << 4;
	seg[13] = 0x18;			/* PSH, ACK */
	put16(seg + 14, 0xffff);
	memcpy(seg + 20, "inner", 5);
	put16(seg + 16, tcp_csum(family, addr, addr, seg, sizeof(seg)));
	/* ESP, cipher_null, no ICV: SPI, sequence number, payload, padding */
	put32(esp, spi);
	put32(esp + 4, 1);
	memcpy(esp + 8, seg, sizeof(seg));
	n = 8 + sizeof(seg);
	pad = (4 - (sizeof(seg) + 2) % 4) % 4;
	for (i = 1; i <= pad; i++)
		esp[n++] = i;
	esp[n++] = pad;
	esp[n++] = IPPROTO_TCP;
	elen_esp = n;
	n = put_frame(frame, esp, elen_esp);

	esp0 = kv_get("/proc/self/net/espintcp", "esp_rx_msgs");
	dal0 = tcpext("DelayedACKLost");
	pk0 = state_packets(spi);
	diag("%s: ESP of %zu bytes (inner TCP %d -> %d, seq %u, ack %u) from the peer", fam_name(family),
	     elen_esp, cport, sport, snd - 100000, rcv);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(send(c, frame, n, 0) == (ssize_t)n ? 0 : 1);
	for (i = 0; i < 1000; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		usleep(10000);
	}
	if (!CHECK(i < 1000, "the sender is still in the kernel after 10 s: deadlock? (the kernel log will say)")) {
		result("self-delivery: the sender returns (no deadlock)", family);
		printf("# stopping here: the kernel is not well\n");
		fflush(stdout);
		_exit(3);
	}
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the sender's send failed");
	result("self-delivery: the ESP's sender returns (no deadlock)", family);

	for (i = 0; i < 300; i++) {
		esp1 = kv_get("/proc/self/net/espintcp", "esp_rx_msgs");
		dal1 = tcpext("DelayedACKLost");
		pk1 = state_packets(spi);
		if ((esp0 < 0 || esp1 - esp0 >= 1) && pk1 - pk0 >= 1 &&
		    (!seqs || dal1 - dal0 >= 1))
			break;
		usleep(10000);
	}
	diag("the state's packets %+ld, TcpExt DelayedACKLost %+ld", pk1 - pk0,
	     dal1 - dal0);
	sh("awk '$2 != 0' /proc/net/xfrm_stat");
	if (esp0 < 0)
		diag("/proc/net/espintcp is root's (0400): esp_rx_msgs not looked at");
	else
		CHECK(esp1 - esp0 == 1, "espintcp took %ld ESP messages, want 1",
		      esp1 - esp0);
	CHECK(pk1 - pk0 == 1, "the state decapsulated %ld packets, want 1", pk1 - pk0);
	if (seqs)
		CHECK(dal1 - dal0 >= 1,
		      "the connection saw no old data (DelayedACKLost %+ld): the inner segment did not reach it",
		      dal1 - dal0);
	else
		skip_reason = "no TCP_REPAIR: the inner segment's numbers are made up";
	result("self-delivery: the state decapsulated it, its inner segment reached the connection (old data: DelayedACKLost)",
	       family);

	ike_both_ways(c, s, 610, 3000);
	CHECK(!getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &elen) && !err,
	      "SO_ERROR %d (%s)", err, strerror(err));
	result("self-delivery: the connection still carries IKE both ways",
	       family);
	close2(c, s);
	sh("ip xfrm state flush");
}

static void run_self(void)
{
	FILE *f;
	char m[128] = "";

	f = fopen("/proc/self/uid_map", "r");
	if (f) {
		if (!fgets(m, sizeof(m), f))
			m[0] = 0;
		m[strcspn(m, "\n")] = 0;
		fclose(f);
	}
	diag("self: uid %d in a user namespace mapped as %s", (int)getuid(), m);
	/* ESP comes in from lo, from the connection's peer, which is local */
	if (sh("ip link set lo up") || sh("ip addr add 10.9.0.1/32 dev lo") ||
	    sh("echo 1 > /proc/sys/net/ipv4/conf/all/accept_local") ||
	    sh("echo 1 > /proc/sys/net/ipv4/conf/lo/accept_local")) {
		failed = true;
		result("self-delivery: namespace setup", AF_INET);
		return;
	}
	test_self(AF_INET);
	if (access("/proc/sys/net/ipv6", F_OK) ||
	    sh("ip -6 addr add fd00:9::1/128 dev lo nodad")) {
		skip_reason = "no IPv6";
		result("self-delivery", AF_INET6);
		return;
	}
	test_self(AF_INET6);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(int family);
	} parts[] = {
		{ "oob", test_oob },
		{ "zc", test_zc },
		{ "taken", test_kcm },
		{ "taken", test_sockmap },
		{ "hold", test_hold },
	};
	static const int families[] = { AF_INET, AF_INET6 };
	bool netns = false;
	unsigned int p, f;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	t_start = now();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(WATCHDOG);
	if (argc < 2) {
		fprintf(stderr, "usage: %s oob|zc|taken|hold|self...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "self")) {
			run_self();
			continue;
		}
		if (!netns && !(netns = netns_open()))
			return 1;
		for (p = 0; p < sizeof(parts) / sizeof(parts[0]); p++) {
			if (strcmp(parts[p].name, argv[i]))
				continue;
			for (f = 0; f < 2; f++)
				parts[p].fn(families[f]);
		}
	}
	return nfail ? 1 : 0;
}
