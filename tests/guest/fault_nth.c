// SPDX-License-Identifier: GPL-2.0
/*
 * Systematic fault injection into one system call that reaches the module,
 * as syzkaller does it: for N = 1, 2, 3, ... the call runs with
 * /proc/thread-self/fail-nth = N, so that its Nth allocation (failslab or
 * fail_page_alloc, whoever makes it) fails, until a call completes without
 * reaching an Nth. After each call the outcome is checked: a clean error
 * to the caller, or success, and in both cases a socket or state that
 * works (or is cleanly gone) afterwards, with nothing lost or half done.
 *
 *   fault_nth OP [KO]	OP: ulp, send, send-large, recv, poll, close,
 *			state-add, state-add-plain, state-update,
 *			state-delete, modload (KO: espintcp.ko's path)
 *
 * Runs in a netns of its own (lo up); the debug kernel's failslab and
 * fail_page_alloc must let sleeping and order-0 allocations fail
 * (70-fault.sh sets that). Prints "# N: ..." per injected call, then
 * "points N errors N" (the allocations reached, how many calls
 * failed with an error), and "not ok: ..." lines for broken checks; exit
 * status 1 if there was any.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/ike_sock.h"

#ifndef TCP_ENCAP_ESPINTCP
#define TCP_ENCAP_ESPINTCP 7
#endif

#define MAX_N 100000

static int bad;
static int fail_fd = -1;
static int cur_n;
static const char *step = "setting up";

/* a call or a check that hangs fails the run, saying where */
static void hung(int sig)
{
	char buf[160];
	int len = snprintf(buf, sizeof(buf),
			   "not ok: fail-nth %d: hung for 30 s, %s\n", cur_n, step);

	(void)sig;
	if (write(STDOUT_FILENO, buf, len) < 0)
		_exit(2);
	_exit(1);
}

static void not_ok(int n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void not_ok(int n, const char *fmt, ...)
{
	va_list ap;

	printf("not ok: fail-nth %d: ", n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	bad = 1;
}

static void __attribute__((noreturn)) die(const char *what)
{
	printf("not ok: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* arm: the Nth allocation of this thread from now on fails */
static void arm(int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	step = "in the call with the failure";
	if (pwrite(fail_fd, buf, len, 0) != len)
		die("write /proc/thread-self/fail-nth");
}

/* disarm: whether the failure was injected (the countdown reached 0) */
static bool disarm(void)
{
	char buf[16] = "";

	if (pread(fail_fd, buf, sizeof(buf) - 1, 0) < 0)
		die("read /proc/thread-self/fail-nth");
	if (pwrite(fail_fd, "0", 1, 0) != 1)
		die("write /proc/thread-self/fail-nth");
	step = "in the checks after the call";
	return atoi(buf) == 0;
}

/*
 * An error an allocation failure may give the caller. EAGAIN is no such
 * error here: the calls block, and the module says EAGAIN only while it
 * is still loading.
 */
static bool nomem(int err)
{
	return err == ENOMEM || err == ENOBUFS;
}

/*
 * CALL (which returns < 0 and sets errno on failure) with the Nth
 * allocation from now on failing: its errno, 0 if it succeeded, -1 if it
 * made fewer than N allocations (nothing was injected)
 */
#define INJECT(n, call) ({						\
	int __err;							\
	arm(n);								\
	__err = (call) < 0 ? errno : 0;					\
	disarm() ? __err : -1;						\
})

/* an injected failure ended in an error no allocation failure gives */
static void check_err(int n, const char *what, int err)
{
	if (err > 0 && !nomem(err))
		not_ok(n, "%s failed with %s", what, strerror(err));
}

/* a connected pair over lo: *c the client, *s the accepted end */
static void tcp_pair(int *c, int *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (void *)&a, &len))
		die("listen");
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (void *)&a, sizeof(a)))
		die("connect");
	*s = accept(l, NULL, NULL);
	if (*s < 0)
		die("accept");
	close(l);
}

static void espintcp_pair(int *c, int *s)
{
	tcp_pair(c, s);
	if (ike_sock_ulp(*c) || ike_sock_ulp(*s))
		die("setsockopt TCP_ULP espintcp");
}

/* an IKE message: the non-ESP marker, then LEN - 4 bytes of pattern */
static void ike_msg(unsigned char *m, size_t len, unsigned int seed)
{
	size_t i;

	memset(m, 0, 4);
	for (i = 4; i < len; i++)
		m[i] = (unsigned char)(seed * 31 + i * 7);
}

static bool read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 5000) != 1)
			return false;
		r = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (r <= 0)
			return false;
		got += r;
	}
	return true;
}

/* nothing more arrives within 200 ms */
static bool silent(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	unsigned char x;

	return poll(&p, 1, 200) != 1 || recv(fd, &x, 1, MSG_DONTWAIT) <= 0;
}

/* the plain TCP peer of a ULP socket reads exactly one framed message */
static bool peer_reads_framed(int peer, const unsigned char *m, size_t len)
{
	static unsigned char buf[2 + 65536];

	if (!read_all(peer, buf, 2 + len))
		return false;
	return buf[0] == (len + 2) >> 8 && buf[1] == ((len + 2) & 0xff) &&
	       !memcmp(buf + 2, m, len);
}

/* one recv() on a ULP socket gives exactly this message */
static bool recv_msg_is(int fd, const unsigned char *m, size_t len)
{
	static unsigned char buf[65536];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t r;

	if (poll(&p, 1, 5000) != 1)
		return false;
	r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	return r == (ssize_t)len && !memcmp(buf, m, len);
}

static bool ulp_is(int fd, const char *want)
{
	char name[16] = "";
	socklen_t len = sizeof(name);

	if (getsockopt(fd, SOL_TCP, TCP_ULP, name, &len))
		return false;
	return !strcmp(name, want);
}

/* the module's reference count, -1 while it is not loaded */
static long mod_refcnt(void)
{
	FILE *f = fopen("/sys/module/espintcp/refcnt", "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * What @get reads, once it is @want or after 5 s. A closed socket lets go
 * of the module when TCP is done with it (FIN-WAIT, LAST-ACK), soon on lo;
 * a state that goes leaves the module's record in its destructor, which
 * xfrm's GC runs a moment later.
 */
static long reach(long (*get)(void), long want)
{
	long v = get();
	int i;

	for (i = 0; i < 500 && v != want; i++) {
		usleep(10000);
		v = get();
	}
	return v;
}

/* ---- the socket operations: one injected call each ---- */

/* returns the call's errno, 0 on success; checks the aftermath */
static int op_ulp(int n)
{
	unsigned char m[100], got[sizeof(m)];
	int c, s, err;

	tcp_pair(&c, &s);
	ike_msg(m, sizeof(m), n);
	err = INJECT(n, ike_sock_ulp(c));
	check_err(n, "setsockopt(TCP_ULP)", err);
	if (err > 0) {
		/* still a plain TCP socket, which works: the bytes, unframed */
		if (!ulp_is(c, "") || send(c, m, sizeof(m), 0) != sizeof(m) ||
		    !read_all(s, got, sizeof(got)) || memcmp(got, m, sizeof(m)) ||
		    !silent(s))
			not_ok(n, "after a failed setsockopt(TCP_ULP), the socket is not plain TCP that works");
	} else if (!ulp_is(c, "espintcp") || send(c, m, sizeof(m), 0) != sizeof(m) ||
		   !peer_reads_framed(s, m, sizeof(m))) {
		not_ok(n, "setsockopt(TCP_ULP) succeeded but the socket does not frame a message");
	}
	close(c);
	close(s);
	return err;
}

static int op_send(int n, size_t len)
{
	static unsigned char m[65533], m2[100];
	int c, s, err;
	ssize_t r;

	espintcp_pair(&c, &s);
	ike_msg(m, len, n);
	ike_msg(m2, sizeof(m2), n + 1);
	err = INJECT(n, r = send(c, m, len, 0));
	check_err(n, "send()", err);
	if (err <= 0 && r != (ssize_t)len)
		not_ok(n, "send() returned %zd of %zu", r, len);
	/* the next message follows whole, after the first if that was sent */
	if (send(c, m2, sizeof(m2), 0) != sizeof(m2))
		not_ok(n, "the next send() failed: %s", strerror(errno));
	if (err <= 0 && !recv_msg_is(s, m, len))
		not_ok(n, "the sent message did not arrive whole");
	if (!recv_msg_is(s, m2, sizeof(m2)))
		not_ok(n, "the next message did not arrive whole%s",
		       err > 0 ? " (or part of the failed one came first)" : "");
	close(c);
	close(s);
	return err;
}

static int op_recv(int n)
{
	static unsigned char m[3000], buf[4000];
	int c, s, err;
	ssize_t r;

	espintcp_pair(&c, &s);
	ike_msg(m, sizeof(m), n);
	if (send(c, m, sizeof(m), 0) != sizeof(m))
		die("send");
	usleep(1000);
	err = INJECT(n, r = recv(s, buf, sizeof(buf), 0));
	check_err(n, "recv()", err);
	if (err > 0) {
		/* nothing lost: the message is still there */
		if (!recv_msg_is(s, m, sizeof(m)))
			not_ok(n, "after a failed recv(), the message is lost");
	} else if (r != sizeof(m) || memcmp(buf, m, sizeof(m))) {
		not_ok(n, "recv() returned %zd bytes, not the message", r);
	}
	close(c);
	close(s);
	return err;
}

static int op_poll(int n)
{
	unsigned char m[200];
	struct pollfd p;
	int c, s, err, r;

	espintcp_pair(&c, &s);
	ike_msg(m, sizeof(m), n);
	if (send(c, m, sizeof(m), 0) != sizeof(m))
		die("send");
	usleep(1000);
	p = (struct pollfd){ .fd = s, .events = POLLIN | POLLOUT };
	err = INJECT(n, r = poll(&p, 1, 0));
	check_err(n, "poll()", err);
	if (err <= 0 && (r != 1 || !(p.revents & POLLIN)))
		not_ok(n, "poll() gave %d, revents %#x, with a message queued", r, p.revents);
	if (!recv_msg_is(s, m, sizeof(m)))
		not_ok(n, "after poll(), the message is not read whole");
	close(c);
	close(s);
	return err;
}

static int op_close(int n)
{
	unsigned char m[200], b;
	struct pollfd p;
	int c, s, err;
	ssize_t r;

	/* c closes with a whole message parsed and unread, which it drops */
	espintcp_pair(&c, &s);
	ike_msg(m, sizeof(m), n);
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	if (send(s, m, sizeof(m), 0) != sizeof(m) || poll(&p, 1, 5000) != 1)
		die("send a message to the socket to close");
	err = INJECT(n, close(c));
	if (err > 0)
		not_ok(n, "close() failed with %s", strerror(err));
	/*
	 * TCP took the message from its queue, so the peer sees a FIN:
	 * EOF, or nothing when TCP could not allocate the FIN (tcp_send_fin
	 * gives up silently). Never data, never a reset.
	 */
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	if (poll(&p, 1, 2000) == 1) {
		r = recv(s, &b, 1, MSG_DONTWAIT);
		if (r)
			not_ok(n, "after close(), the peer's recv() gave %zd (%s), not EOF",
			       r, r < 0 ? strerror(errno) : "data");
	}
	close(s);
	return err;
}

/* ---- xfrm states over netlink ---- */

struct nlreq {
	struct nlmsghdr nh;
	union {
		struct xfrm_usersa_info sa;
		struct xfrm_usersa_id id;
	};
	char attrs[512];
};

static void put_attr(struct nlreq *r, int type, const void *data, int len)
{
	struct nlattr *a = (void *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/*
 * The answer's errno (0: done), or NO_ANSWER: the kernel could not
 * allocate its answer, and the socket says ENOBUFS (whether the request
 * was carried out is then for the caller to find out)
 */
#define NO_ANSWER 100000

static int nl_answer(int fd)
{
	char buf[8192];
	struct nlmsghdr *nh = (void *)buf;
	ssize_t r = recv(fd, buf, sizeof(buf), 0);

	if (r < 0 && errno == ENOBUFS)
		return NO_ANSWER;
	if (r < (ssize_t)sizeof(*nh))
		die("recv netlink");
	if (nh->nlmsg_type == NLMSG_ERROR)
		return -((struct nlmsgerr *)NLMSG_DATA(nh))->error;
	return 0;
}

#define SPI 0x1000

/*
 * add (or update) the state 10.99.0.1 -> 10.99.0.2, SPI: with TCP encap
 * from port SPORT, or none (SPORT 0)
 */
static void sa_req(struct nlreq *r, int type, int sport)
{
	struct {
		struct xfrm_algo_aead a;
		char key[20];
	} aead = { .a = { .alg_name = "rfc4106(gcm(aes))", .alg_key_len = 160,
			  .alg_icv_len = 128 } };
	struct xfrm_encap_tmpl encap = {
		.encap_type = TCP_ENCAP_ESPINTCP,
		.encap_sport = htons(sport),
		.encap_dport = htons(4500),
	};

	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_len = NLMSG_LENGTH(sizeof(r->sa));
	r->nh.nlmsg_type = type;
	r->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	r->sa.family = AF_INET;
	r->sa.saddr.a4 = inet_addr("10.99.0.1");
	r->sa.id.daddr.a4 = inet_addr("10.99.0.2");
	r->sa.id.spi = htonl(SPI);
	r->sa.id.proto = IPPROTO_ESP;
	r->sa.mode = XFRM_MODE_TRANSPORT;
	r->sa.reqid = 1;
	r->sa.lft.soft_byte_limit = XFRM_INF;
	r->sa.lft.hard_byte_limit = XFRM_INF;
	r->sa.lft.soft_packet_limit = XFRM_INF;
	r->sa.lft.hard_packet_limit = XFRM_INF;
	memset(aead.key, 0x11, sizeof(aead.key));
	put_attr(r, XFRMA_ALG_AEAD, &aead, sizeof(aead));
	if (sport)
		put_attr(r, XFRMA_ENCAP, &encap, sizeof(encap));
}

static void id_req(struct nlreq *r, int type)
{
	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_len = NLMSG_LENGTH(sizeof(r->id));
	r->nh.nlmsg_type = type;
	r->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	r->id.daddr.a4 = inet_addr("10.99.0.2");
	r->id.spi = htonl(SPI);
	r->id.family = AF_INET;
	r->id.proto = IPPROTO_ESP;
}

/* send the request with the Nth allocation failing (n 0: none) */
static int nl_do(int fd, struct nlreq *r, int n, bool *injected)
{
	int err = 0;

	if (n)
		arm(n);
	if (send(fd, r, r->nh.nlmsg_len, 0) < 0)
		err = errno;
	if (n)
		*injected = disarm();
	return err ? err : nl_answer(fd);
}

/* "tcp_states N" of /proc/net/espintcp: the module's record of them */
static long tcp_states(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/net/espintcp", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "tcp_states %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* GETSA: -1 if the state does not exist, else its encap's sport (0: none) */
static int sa_sport(int fd)
{
	struct nlreq r;
	char buf[8192];
	struct nlmsghdr *nh = (void *)buf;
	struct nlattr *a;
	ssize_t len;
	int left;

	id_req(&r, XFRM_MSG_GETSA);
	r.nh.nlmsg_flags = NLM_F_REQUEST;
	if (send(fd, &r, r.nh.nlmsg_len, 0) < 0)
		die("GETSA");
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < (ssize_t)sizeof(*nh))
		die("GETSA");
	if (nh->nlmsg_type != XFRM_MSG_NEWSA)
		return -1;
	a = (void *)((char *)NLMSG_DATA(nh) + NLMSG_ALIGN(sizeof(struct xfrm_usersa_info)));
	left = (char *)nh + nh->nlmsg_len - (char *)a;
	for (; left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= left;
	     left -= NLA_ALIGN(a->nla_len), a = (void *)((char *)a + NLA_ALIGN(a->nla_len)))
		if ((a->nla_type & NLA_TYPE_MASK) == XFRMA_ENCAP)
			return ntohs(((struct xfrm_encap_tmpl *)((char *)a + NLA_HDRLEN))->encap_sport);
	return 0;
}

static void sa_delete(int fd)
{
	struct nlreq r;

	id_req(&r, XFRM_MSG_DELSA);
	nl_do(fd, &r, 0, NULL);
}

/*
 * Each operation's outcome, as the state's encap sport after it (-1: no
 * state, 0: no encap): update moves the TCP state from port 4500 to 4501
 */
struct state_op {
	const char *name;
	int type, before, done, undone;
};

static const struct state_op state_ops[] = {
	{ "state-add", XFRM_MSG_NEWSA, -1, 4500, -1 },
	{ "state-add-plain", XFRM_MSG_NEWSA, -1, 0, -1 },
	{ "state-update", XFRM_MSG_UPDSA, 4500, 4501, 4500 },
	{ "state-delete", XFRM_MSG_DELSA, 4500, -1, 4500 },
	{ NULL }
};

static int op_state(int n, const struct state_op *o)
{
	bool injected = false;
	struct nlreq r;
	int fd, err, sport;
	long got;

	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_XFRM);
	if (fd < 0)
		die("socket NETLINK_XFRM");
	sa_delete(fd);	/* what an earlier run may have left */
	if (reach(tcp_states, 0))
		not_ok(n, "%s: a TCP state is left from before", o->name);
	if (o->before > 0) {
		sa_req(&r, XFRM_MSG_NEWSA, o->before);
		err = nl_do(fd, &r, 0, NULL);
		if (err) {
			errno = err;
			die("NEWSA");
		}
	}
	if (o->type == XFRM_MSG_DELSA)
		id_req(&r, o->type);
	else
		sa_req(&r, o->type, o->done);
	err = nl_do(fd, &r, n, &injected);
	if (err != NO_ANSWER)
		check_err(n, o->name, err);
	/* done or not done, as the answer says (either without one) */
	sport = sa_sport(fd);
	if (err == NO_ANSWER ? sport != o->done && sport != o->undone :
	    sport != (err ? o->undone : o->done))
		not_ok(n, "%s %s, yet the state's encap port is %d (-1: no state)",
		       o->name, err == NO_ANSWER ? "had no answer" :
		       err ? "failed" : "succeeded", sport);
	/* and the module's record agrees with xfrm's states */
	got = reach(tcp_states, sport > 0);
	if (got != (sport > 0))
		not_ok(n, "%s: the state's encap port is %d, and tcp_states is %ld",
		       o->name, sport, got);
	sa_delete(fd);
	got = reach(tcp_states, 0);
	if (got)
		not_ok(n, "%s: tcp_states %ld with no state left", o->name, got);
	close(fd);
	if (!injected)
		return -1;
	return err == NO_ANSWER ? ENOBUFS : err;
}

/* ---- the module's load ---- */

static bool ulp_available(void)
{
	char buf[256] = "";
	int fd = open("/proc/sys/net/ipv4/tcp_available_ulp", O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
		die("read tcp_available_ulp");
	close(fd);
	return strstr(buf, "espintcp");
}

/* the loaded module frames a message and takes a TCP state */
static void module_works(int n)
{
	unsigned char m[100];
	struct nlreq r;
	int c, s, fd, err;

	espintcp_pair(&c, &s);
	ike_msg(m, sizeof(m), n);
	if (send(c, m, sizeof(m), 0) != sizeof(m) || !recv_msg_is(s, m, sizeof(m)))
		not_ok(n, "after finit_module, a message did not cross an espintcp pair whole");
	close(c);
	close(s);

	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_XFRM);
	if (fd < 0)
		die("socket NETLINK_XFRM");
	sa_req(&r, XFRM_MSG_NEWSA, 4500);
	err = nl_do(fd, &r, 0, NULL);
	if (err || reach(tcp_states, 1) != 1)
		not_ok(n, "after finit_module, a TCP state: %s, tcp_states %ld",
		       err ? strerror(err) : "added", tcp_states());
	sa_delete(fd);
	if (reach(tcp_states, 0))
		not_ok(n, "after finit_module, tcp_states %ld with the TCP state deleted",
		       tcp_states());
	close(fd);
}

static int op_modload(int n, const char *ko)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC), err;
	bool loaded;

	if (fd < 0)
		die(ko);
	err = INJECT(n, syscall(SYS_finit_module, fd, "", 0));
	close(fd);
	loaded = !access("/sys/module/espintcp", F_OK);
	check_err(n, "finit_module", err);
	if (err > 0 && (loaded || ulp_available()))
		not_ok(n, "finit_module failed, yet the module or its ULP is there");
	if (err <= 0 && (!loaded || !ulp_available()))
		not_ok(n, "finit_module succeeded, yet the module or its ULP is missing");
	if (err <= 0 && loaded)
		module_works(n);
	if (loaded && reach(mod_refcnt, 0))
		not_ok(n, "the module's reference count is %ld once its users are gone",
		       mod_refcnt());
	if (loaded && syscall(SYS_delete_module, "espintcp", O_NONBLOCK))
		not_ok(n, "delete_module: %s", strerror(errno));
	return err;
}

static int run(const char *op, int n, const char *ko)
{
	const struct state_op *o;

	if (!strcmp(op, "ulp"))
		return op_ulp(n);
	if (!strcmp(op, "send"))
		return op_send(n, 100);
	if (!strcmp(op, "send-large"))
		return op_send(n, 65533);
	if (!strcmp(op, "recv"))
		return op_recv(n);
	if (!strcmp(op, "poll"))
		return op_poll(n);
	if (!strcmp(op, "close"))
		return op_close(n);
	for (o = state_ops; o->name; o++)
		if (!strcmp(op, o->name))
			return op_state(n, o);
	if (!strcmp(op, "modload") && ko)
		return op_modload(n, ko);
	fprintf(stderr, "usage: fault_nth OP [KO] (see the source)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int n, errors = 0;
	long refs;

	if (argc < 2)
		run("", 0, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	fail_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fail_fd < 0)
		die("open /proc/thread-self/fail-nth (a kernel with CONFIG_FAULT_INJECTION?)");
	signal(SIGALRM, hung);
	refs = mod_refcnt();	/* -1 for modload: not loaded */
	for (n = 1; n < MAX_N; n++) {
		int err;

		cur_n = n;
		step = "setting up";
		alarm(30);
		err = run(argv[1], n, argv[2]);
		/* nothing the call made holds the module once it is gone */
		step = "waiting for the module's reference count";
		if (reach(mod_refcnt, refs) != refs)
			not_ok(n, "the module's reference count is %ld, %ld before",
			       mod_refcnt(), refs);
		alarm(0);

		if (err < 0)	/* the call made fewer than n allocations */
			break;
		if (err)
			errors++;
		printf("# %d: %s\n", n, err ? strerror(err) : "succeeded");
	}
	if (n == MAX_N)
		not_ok(n, "%s never ran out of allocations to fail", argv[1]);
	printf("points %d errors %d\n", n - 1, errors);
	return bad;
}
