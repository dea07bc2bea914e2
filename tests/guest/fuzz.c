// SPDX-License-Identifier: GPL-2.0
/*
 * A bounded, seeded fuzzer for the espintcp ULP, run in the guest between
 * netns cli and srv (tests/guest/60-fuzz.sh). It checks integrity as well
 * as survival: the kernel log is checked by the harness afterwards.
 *
 *   fuzz SEED SECONDS [KIND]
 *			rounds until SECONDS have passed; each round
 *			prints its own seed, and "fuzz SEED 0 KIND" with
 *			that round seed replays that round alone. Without
 *			KIND, stream and calls rounds are picked at random
 *			(the same rounds for a SEED as before reader rounds
 *			existed); KIND (stream, calls or reader) runs only
 *			rounds of that kind, e.g. "fuzz SEED 600 reader" for
 *			a long run of the reader profile. 60-fuzz.sh passes
 *			fuzz_kind= from the kernel command line.
 *
 * Rounds:
 *  stream  a plain TCP client writes a hostile byte stream to a server
 *          with the ULP: IKE messages (0 to 65533 bytes of payload),
 *          keepalives, short frames, ESP with unknown SPIs, lengths 0 and
 *          1, written in random pieces (down to single bytes), before or
 *          after the ULP is set, ending in FIN, FIN mid-frame or RST. The
 *          server must read exactly the IKE messages, in order, byte for
 *          byte: all of them before EOF when the stream is well formed,
 *          those before a fatal length then EINVAL, a prefix after RST.
 *  calls   both ends with the ULP; three threads on each end send, recv,
 *          poll and shutdown with random sizes and flags. Every message
 *          read whole must be one that was sent, intact; every errno must
 *          be one the call may give.
 *  reader  16 to 64 connections at once, a writer and a reader thread
 *          each: a plain TCP client writes "IKETCP" and 1 to 40 well-formed
 *          IKE messages (mostly small, some of a few KB, now and then up to
 *          60 KB) in random pieces, then FIN, or RST after a random cut.
 *          The server sets the ULP before the messages or after some have
 *          arrived, at times after a small SO_RCVBUF (4 to 64 KB, on the
 *          listener or the accepted socket), so that the IKE queue fills
 *          and parsing pauses, and at times with an SO_RCVTIMEO. Its
 *          reader polls with 1-50 ms timeouts, sleeps now and then, and
 *          calls recvmsg with random buffer sizes and flags (MSG_PEEK,
 *          MSG_TRUNC, MSG_DONTWAIT, MSG_WAITALL; MSG_OOB must fail with
 *          EINVAL and MSG_ERRQUEUE with EAGAIN). Each message read must be
 *          the next one sent, as far as the buffer held it, with the
 *          length and MSG_TRUNC of a datagram socket; after FIN every
 *          message then EOF, after RST a prefix; no other errno. A gap
 *          of 2 s between messages is looked at (what the parser holds of
 *          the next message against what TCP holds, the client's window);
 *          a connection that reads nothing for 20 s is reported as stalled,
 *          with what TCP and ss show of both ends, then watched 5 s as it
 *          is, 5 s with a large SO_RCVBUF and 5 s after the server sent a
 *          segment, to tell what ends it. After a parser error (ETIMEDOUT
 *          from its message timer, EMSGSIZE) the reader goes on for 5 s to
 *          show whether EOF still comes. The last lines sum it all up.
 *
 * Output: "ok - ..." / "not ok - ..." per round kind at the end, "# ..."
 * diagnostics; exit status 1 on any failure.
 */
#include "lib/harness.h"

#include <pthread.h>
#include <semaphore.h>

#define HDR		12	/* marker, length, id */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

static unsigned int below(struct rng *r, unsigned int n)
{
	return n ? rnd(r) % n : 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Message @id of @len bytes (HDR <= len <= MAX_MSG): the non-ESP marker,
 * its length and id, then bytes derived from both.
 */
static void fill_msg(uint8_t *m, uint32_t len, uint32_t id)
{
	uint32_t i;

	memset(m, 0, 4);
	memcpy(m + 4, &len, 4);
	memcpy(m + 8, &id, 4);
	for (i = HDR; i < len; i++)
		m[i] = (uint8_t)(i * 31 + id * 7 + (i >> 8));
}

/* whether @m, @n bytes, is a whole message as fill_msg() makes them */
static bool msg_intact(const uint8_t *m, size_t n, uint32_t *id)
{
	static __thread uint8_t want[MAX_MSG];
	uint32_t len;

	if (n < HDR || memcmp(m, "\0\0\0\0", 4))
		return false;
	memcpy(&len, m + 4, 4);
	memcpy(id, m + 8, 4);
	if (len != n)
		return false;
	fill_msg(want, len, *id);
	return !memcmp(m, want, n);
}

/* ------------------------------------------------------ stream rounds */

struct item {
	enum { IKE, KEEPALIVE, SHORT, ESP, FATAL } kind;
	uint32_t len;		/* payload bytes, without the 2-byte length */
	uint32_t id;
};

#define MAX_ITEMS 48

static size_t put_item(uint8_t *out, const struct item *it, struct rng *r)
{
	uint32_t i, flen = it->len + 2;

	if (it->kind == FATAL)
		flen = it->len;		/* 0 or 1: a length shorter than itself */
	out[0] = flen >> 8;
	out[1] = flen & 0xff;
	switch (it->kind) {
	case IKE:
		fill_msg(out + 2, it->len, it->id);
		break;
	case KEEPALIVE:
		out[2] = 0xff;
		break;
	case SHORT:
		for (i = 0; i < it->len; i++)
			out[2 + i] = (uint8_t)below(r, 255);	/* never a lone 0xff */
		if (it->len == 1 && out[2] == 0xff)
			out[2] = 0;
		break;
	case ESP:
		/* an SPI no state has (0x00ff0000 + n), then garbage */
		out[2] = 0;
		out[3] = 0xff;
		out[4] = 0;
		out[5] = (uint8_t)below(r, 256) | 1;
		for (i = 4; i < it->len; i++)
			out[2 + i] = (uint8_t)rnd(r);
		break;
	case FATAL:
		return 2;
	}
	return 2 + it->len;
}

static uint32_t ike_len(struct rng *r)
{
	switch (below(r, 8)) {
	case 0:
		return MAX_MSG;
	case 1:
		return HDR + below(r, MAX_MSG - HDR + 1);
	default:
		return HDR + below(r, 600);
	}
}

static int plan(struct rng *r, struct item *it)
{
	int n = 1 + below(r, MAX_ITEMS), i, id = 0;

	for (i = 0; i < n; i++) {
		unsigned int k = below(r, 100);

		if (k < 70) {
			it[i] = (struct item){ IKE, ike_len(r), id++ };
		} else if (k < 78) {
			it[i] = (struct item){ KEEPALIVE, 1, 0 };
		} else if (k < 88) {
			it[i] = (struct item){ SHORT, 1 + below(r, 4), 0 };
		} else if (k < 98) {
			it[i] = (struct item){ ESP, 8 + below(r, 300), 0 };
		} else {
			it[i] = (struct item){ FATAL, below(r, 2), 0 };
			n = i + 1;	/* nothing after it is parsed */
		}
	}
	return n;
}

struct writer {
	int fd;
	uint8_t *buf;
	size_t len;
	size_t cut;		/* bytes to write before the ending */
	bool rst;
	uint64_t seed;
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	struct rng r = { w->seed };
	size_t off = 0;

	while (off < w->cut) {
		size_t piece = below(&r, 4) ? 1 + below(&r, 3000) : 1 + below(&r, 70000);
		ssize_t n;

		if (piece > w->cut - off)
			piece = w->cut - off;
		n = send(w->fd, w->buf + off, piece, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += n;
		if (!below(&r, 16))
			usleep(below(&r, 2000));
	}
	if (w->rst) {
		struct linger lg = { 1, 0 };

		setsockopt(w->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(w->fd);
		w->fd = -1;
	} else {
		shutdown(w->fd, SHUT_WR);
	}
	return NULL;
}

/*
 * The end of the stream lost on the way to server socket @s, once all
 * before it was read. TCP sends a reset once, and (6.1's tcp_send_fin) a
 * FIN only if an atomic allocation succeeds: where allocations are made to
 * fail (70-fault.sh sets FUZZ_LOSSY) either can be lost, and the server
 * then waits for ever. Lost only if its TCP never saw it: still
 * established, nothing held.
 */
static bool end_lost(int s)
{
	struct tcp_info ti = { 0 };
	socklen_t l = sizeof(ti);

	if (!getenv("FUZZ_LOSSY"))
		return false;
	getsockopt(s, SOL_TCP, TCP_INFO, &ti, &l);
	return ti.tcpi_state == TCP_ESTABLISHED && !inq(s);
}

static bool stream_round(uint64_t seed)
{
	static uint8_t buf[MAX_ITEMS * (MAX_MSG + 2)], got[MAX_MSG + 1];
	static uint8_t want_msg[MAX_MSG];
	size_t end_off[MAX_ITEMS];
	uint32_t explen[MAX_ITEMS];
	struct rng r = { seed };
	struct item it[MAX_ITEMS];
	int family = below(&r, 2) ? AF_INET6 : AF_INET;
	int nitems, nike, i, c, s, next = 0, ending = below(&r, 4);
	bool fatal, ok = true, ulp_late = below(&r, 2), einval = false;
	struct timeval tmo = { 5, 0 };
	struct writer w;
	pthread_t t;
	size_t len = 0;

	nitems = plan(&r, it);
	for (i = 0; i < nitems; i++) {
		len += put_item(buf + len, &it[i], &r);
		end_off[i] = len;
	}

	if (tcp_pair(family, &c, &s))
		return false;
	w = (struct writer){ c, buf, len, len, ending == 0, rnd(&r) };
	if (ending == 1)	/* FIN in the middle of the last frame */
		w.cut = len - 1 - below(&r, len > 8 ? 6 : 1);
	/* what the server must read: the IKE items wholly written */
	nike = 0;
	fatal = false;
	for (i = 0; i < nitems && end_off[i] <= w.cut; i++) {
		if (it[i].kind == IKE)
			explen[nike++] = it[i].len;
		fatal |= it[i].kind == FATAL;
	}

	/* a writer stuck on a reader that gave up must not hang the round */
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	if (send(c, "IKETCP", 6, 0) != 6 ||
	    recv(s, got, 6, MSG_WAITALL) != 6 || memcmp(got, "IKETCP", 6)) {
		diag("stream %#llx: no IKETCP prefix", (unsigned long long)seed);
		ok = false;
		goto out;
	}
	if (!ulp_late && ike_sock_ulp(s)) {
		diag("stream: setsockopt(TCP_ULP): %s", strerror(errno));
		ok = false;
		goto out;
	}
	pthread_create(&t, NULL, writer_run, &w);
	if (ulp_late) {
		usleep(below(&r, 20000));
		if (ike_sock_ulp(s)) {
			diag("stream: late setsockopt(TCP_ULP): %s", strerror(errno));
			ok = false;
			pthread_join(t, NULL);
			goto out;
		}
	}

	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		size_t want = below(&r, 8) ? sizeof(got) : 1 + below(&r, 64);
		int flags = below(&r, 8) ? 0 : MSG_PEEK;
		ssize_t n;
		uint32_t id;

		if (poll(&p, 1, 10000) != 1) {
			struct tcp_info ti = { 0 }, tc = { 0 };
			socklen_t l = sizeof(ti);

			if (next == nike && end_lost(s)) {
				diag("stream %#llx: all %d messages read; the client's %s never came (lost to a failed allocation)",
				     (unsigned long long)seed, nike,
				     ending ? "FIN" : "reset");
				break;
			}
			getsockopt(s, SOL_TCP, TCP_INFO, &ti, &l);
			l = sizeof(tc);
			if (w.fd >= 0)
				getsockopt(w.fd, SOL_TCP, TCP_INFO, &tc, &l);
			diag("stream %#llx: nothing readable for 10 s after %d of %d messages (server: TCP state %u, %d bytes in TCP; client: state %u, %u unacked, %u retransmits)",
			     (unsigned long long)seed, next, nike, ti.tcpi_state,
			     inq(s), tc.tcpi_state, tc.tcpi_unacked,
			     tc.tcpi_total_retrans);
			ok = false;
			break;
		}
		n = recv(s, got, want, flags | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0 && errno == EINVAL && fatal && !einval) {
			einval = true;
			continue;
		}
		if (n < 0 && errno == ECONNRESET && ending == 0)
			break;
		if (n <= 0) {
			if (n < 0) {
				diag("stream %#llx: recv: %s", (unsigned long long)seed,
				     strerror(errno));
				ok = false;
			}
			break;
		}
		/* the next message, or as much of it as fits */
		if (next >= nike) {
			diag("stream %#llx: a message beyond the %d sent",
			     (unsigned long long)seed, nike);
			ok = false;
			break;
		}
		fill_msg(want_msg, explen[next], next);
		if ((size_t)n != (explen[next] < want ? explen[next] : want) ||
		    memcmp(got, want_msg, n)) {
			id = n >= HDR ? (uint32_t)(got[8] | got[9] << 8) : ~0u;
			diag("stream %#llx: message %d: %zd bytes of %u, not the message sent (id %u)",
			     (unsigned long long)seed, next, n, explen[next], id);
			ok = false;
			break;
		}
		if (!(flags & MSG_PEEK))
			next++;
	}
	pthread_join(t, NULL);

	/* a stream ended by FIN loses nothing before EOF */
	if (ok && ending != 0 && next != nike) {
		diag("stream %#llx: EOF after %d of %d messages",
		     (unsigned long long)seed, next, nike);
		ok = false;
	}
	if (ok && ending != 0 && fatal != einval) {
		diag("stream %#llx: a fatal length %s, EINVAL %s",
		     (unsigned long long)seed, fatal ? "sent" : "not sent",
		     einval ? "seen" : "not seen");
		ok = false;
	}
out:
	if (w.fd >= 0)
		close(w.fd);
	close(s);
	return ok;
}

/* ------------------------------------------------------- call rounds */

struct caller {
	int fd;
	uint64_t seed;
	double end;
	bool bad;
	uint32_t id0;
};

static bool errno_expected(int e)
{
	switch (e) {
	case EAGAIN: case EPIPE: case ECONNRESET: case EMSGSIZE: case EINVAL:
	case EOPNOTSUPP: case ENOTCONN: case EINTR: case ETIMEDOUT:
	case ENOBUFS: case ENOMEM:
		return true;
	}
	return false;
}

static void *caller_run(void *arg)
{
	static const int rflags[] = { 0, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC,
				      MSG_OOB, MSG_ERRQUEUE, MSG_WAITALL };
	static const int sflags[] = { 0, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_OOB,
				      MSG_MORE };
	struct caller *c = arg;
	struct rng r = { c->seed };
	uint8_t *m = malloc(MAX_MSG + 2), *got = malloc(MAX_MSG + 2);
	uint32_t id = c->id0;
	struct timeval tmo = { 0, 200000 };

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	while (now() < c->end && !c->bad) {
		unsigned int op = below(&r, 100);
		ssize_t n;

		if (op < 45) {
			uint32_t len = below(&r, 50) ? ike_len(&r) : MAX_MSG + 1;
			int fl = sflags[below(&r, 5)] | MSG_NOSIGNAL;

			fill_msg(m, len > MAX_MSG ? MAX_MSG : len, id++);
			n = send(c->fd, m, len, fl);
			if (n >= 0 && n != (ssize_t)len) {
				diag("calls: send of %u returned %zd", len, n);
				c->bad = true;
			}
		} else if (op < 90) {
			int fl = rflags[below(&r, 7)] | MSG_DONTWAIT;
			size_t want = below(&r, 4) ? MAX_MSG + 2 : below(&r, 100);
			uint32_t gid;

			n = recv(c->fd, got, want, fl);
			if (n > 0 && want == MAX_MSG + 2 && !(fl & MSG_TRUNC) &&
			    !msg_intact(got, n, &gid)) {
				diag("calls: recv (flags %#x) gave %zd bytes that are no message sent",
				     fl, n);
				c->bad = true;
			}
		} else if (op < 97) {
			struct pollfd p = { .fd = c->fd,
					    .events = POLLIN | POLLOUT | POLLRDHUP };

			n = poll(&p, 1, below(&r, 20));
		} else if (op < 99) {
			n = shutdown(c->fd, below(&r, 3));
		} else {
			int v;
			socklen_t l = sizeof(v);

			n = getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &v, &l);
		}
		if (n < 0 && !errno_expected(errno)) {
			diag("calls: op %u: unexpected errno %d (%s)", op, errno,
			     strerror(errno));
			c->bad = true;
		}
	}
	free(m);
	free(got);
	return NULL;
}

static bool calls_round(uint64_t seed)
{
	struct rng r = { seed };
	int family = below(&r, 2) ? AF_INET6 : AF_INET;
	struct caller cs[6];
	pthread_t t[6];
	char pfx[6];
	bool ok = true;
	int c, s, i;

	if (tcp_pair(family, &c, &s))
		return false;
	if (send(c, "IKETCP", 6, 0) != 6 || ike_sock_ulp(c) ||
	    recv(s, pfx, 6, MSG_WAITALL) != 6 || ike_sock_ulp(s)) {
		diag("calls: espintcp pair: %s", strerror(errno));
		close(c);
		close(s);
		return false;
	}
	for (i = 0; i < 6; i++) {
		cs[i] = (struct caller){ i < 3 ? c : s, rnd(&r),
					 now() + 0.3 + below(&r, 700) / 1000.0,
					 false, (uint32_t)i << 24 };
		pthread_create(&t[i], NULL, caller_run, &cs[i]);
	}
	for (i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		ok &= !cs[i].bad;
	}
	if (!ok)
		diag("calls %#llx failed", (unsigned long long)seed);
	if (below(&r, 2)) {	/* a close with data both ways, or a reset */
		struct linger lg = { 1, 0 };

		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c);
	close(s);
	return ok;
}

/* ------------------------------------------------------ reader rounds */

#define RD_MAX_MSGS	40
#define RD_MAX_CONNS	64
#define RD_SLOW		2.0	/* seconds without a message: slow, looked at */
#define RD_SLOW_PRINTS	20	/* slow connections described per run */
#define RD_STALL	20.0	/* seconds without a message: stalled */
#define RD_AFTER	5.0	/* watched after the parser gave up, for EOF */
/*
 * A stalled connection is then watched for recovery (RD_PHASE seconds
 * each): as it is, then with a large SO_RCVBUF, then after the server
 * sent a segment, which carries its window to the client.
 */
#define RD_PHASE	5.0
enum { RD_ASIS, RD_RAISED, RD_POKED, RD_PHASES };
static const char *const rd_phase_names[] = {
	"by itself", "once SO_RCVBUF was raised",
	"once the server sent a segment (with its window)",
};

/* one connection of a reader round; set up before its threads start */
struct rconn {
	int c, s;
	int family;
	uint64_t seed;
	int nmsg;
	uint32_t len[RD_MAX_MSGS];
	uint32_t id0;		/* message i has id id0 + i */
	bool rst;		/* RST after cut bytes of frames, not FIN */
	size_t cut;
	int whole;		/* messages wholly before the cut */
	int rcvbuf;		/* SO_RCVBUF, 0 to keep the default */
	bool rcvbuf_listener;	/* set on the listener, not after accept */
	int rcvtimeo;		/* SO_RCVTIMEO in ms, 0 for none */
	bool ulp_late;		/* set after the writer has begun */
	sem_t go;		/* early ULP: the writer waits for it */

	/* the writer's progress */
	size_t wbytes;
	int wmsgs;
	int werr;
	bool wdone;

	/* the reader's */
	int next;		/* messages read */
	int peeks, truncs, shorts, blocking, eagains, oobs;
	bool eof, reset;
	bool end_lost;		/* FUZZ_LOSSY: the client's FIN or RST never came */
	bool bad, stalled, recovered;
	double stall_wait;	/* seconds waited when it was declared */
	double recovered_after;
	bool starved;		/* the parser waits for more than TCP holds */
	int phase;		/* of the watch, once stalled */
	bool slow;		/* looked at in this gap */
	int aborted;		/* the parser's error, if it gave up */
	int after_abort;	/* messages read after it */
	double aborted_at;
};

/* a round's connections, for the summary */
static struct {
	long conns, fin, rst, msgs, stalls, starved;
	long recovered_in[RD_PHASES];
	long slow, slow_queued, slow_starved, slow_zero_wnd, slow_room;
	double slow_max;
	long timer, msgsize, errors, aborted_eof, end_lost;
	long small_rcvbuf, late_ulp, rcvtimeo;
} rd_sum;

static pthread_mutex_t rd_out = PTHREAD_MUTEX_INITIALIZER;

/* diagnostics from several threads, a line each */
#define rdiag(...) do {							\
	pthread_mutex_lock(&rd_out);					\
	diag(__VA_ARGS__);						\
	pthread_mutex_unlock(&rd_out);					\
} while (0)

static uint32_t rd_len(struct rng *r)
{
	unsigned int k = below(r, 100);

	if (k < 60)
		return HDR + below(r, 600);
	if (k < 85)
		return HDR + below(r, 4096);
	if (k < 96)
		return HDR + below(r, 16384);
	return HDR + below(r, 60 * 1024 - HDR + 1);
}

/* a pair whose server may inherit SO_RCVBUF from the listener */
static int rd_pair(struct rconn *k)
{
	return tcp_pair_rcvbuf(k->family, k->rcvbuf_listener ? k->rcvbuf : 0,
			       &k->c, &k->s);
}

/* "IKETCP", the frames (until the cut, with RST), then FIN or RST */
static void *rd_writer(void *arg)
{
	struct rconn *k = arg;
	struct rng r = { k->seed ^ 0x9e3779b97f4a7c15ull };
	uint8_t *frame = malloc(MAX_MSG + 2);
	struct timeval tmo = { 40, 0 };
	int i;

	setsockopt(k->c, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	if (send(k->c, "IKETCP", 6, MSG_NOSIGNAL) != 6) {
		k->werr = errno;
		goto end;
	}
	if (!k->ulp_late)
		sem_wait(&k->go);
	for (i = 0; i < k->nmsg; i++) {
		struct item it = { IKE, k->len[i], k->id0 + i };
		size_t flen = put_item(frame, &it, &r), off = 0;

		while (off < flen) {
			size_t piece = below(&r, 4) ? 1 + below(&r, 3000) :
						      1 + below(&r, 70000);
			ssize_t n;

			if (piece > flen - off)
				piece = flen - off;
			if (k->rst && k->wbytes + piece > k->cut)
				piece = k->cut - k->wbytes;
			if (!piece)
				goto end;
			n = send(k->c, frame + off, piece, MSG_NOSIGNAL);
			if (n <= 0) {
				k->werr = n < 0 ? errno : EIO;
				goto end;
			}
			off += n;
			__atomic_add_fetch(&k->wbytes, n, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&k->wmsgs, i + 1, __ATOMIC_RELAXED);
		if (!below(&r, 8))
			usleep(below(&r, 20000));
	}
end:
	if (k->rst) {
		struct linger lg = { 1, 0 };

		setsockopt(k->c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(k->c);
		k->c = -1;
	} else {
		shutdown(k->c, SHUT_WR);
	}
	__atomic_store_n(&k->wdone, true, __ATOMIC_RELEASE);
	free(frame);
	return NULL;
}

/* glibc's tcp_info stops at tcpi_total_retrans; the kernel's goes on */
struct rd_tcp_info {
	struct tcp_info b;
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in,
		 data_segs_out;
	uint64_t delivery_rate, busy_time, rwnd_limited, sndbuf_limited;
	uint32_t delivered, delivered_ce;
	uint64_t bytes_sent, bytes_retrans;
	uint32_t dsack_dups, reord_seen, rcv_ooopack, snd_wnd;
};

/* end_lost() for a reader's connection: every message read, 10 s quiet */
static bool rd_end_lost(struct rconn *k, double quiet)
{
	return quiet >= 10 && !k->eof && !k->reset && !k->aborted &&
	       __atomic_load_n(&k->wdone, __ATOMIC_ACQUIRE) &&
	       k->next == (k->rst ? k->whole : k->nmsg) && end_lost(k->s);
}

/* what a connection looks like when it makes no progress */
struct rd_snap {
	bool queued;		/* a message waits for recvmsg */
	bool starved;		/* the parser waits for more than TCP holds */
	bool zero_wnd;		/* the client sees a zero window */
	bool room;		/* ... though the server's buffer is half empty */
};

/*
 * TCP's and the module's view of a connection that stopped: printed when
 * @print, with ss's view of both ends when @ss.
 */
static struct rd_snap rd_report(struct rconn *k, const char *what, bool print,
				bool ss)
{
	struct rd_tcp_info ts = { 0 }, tc = { 0 };
	socklen_t l = sizeof(ts);
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	struct pollfd p = { .fd = k->s, .events = POLLIN | POLLRDHUP };
	int port = port_of(k->s, false), held = inq(k->s);
	struct rd_snap sn = { 0 };
	char cmd[300];

	getsockopt(k->s, SOL_TCP, TCP_INFO, &ts, &l);
	l = sizeof(mem);
	getsockopt(k->s, SOL_SOCKET, SO_MEMINFO, mem, &l);
	if (k->c >= 0) {
		l = sizeof(tc);
		getsockopt(k->c, SOL_TCP, TCP_INFO, &tc, &l);
		sn.zero_wnd = !tc.snd_wnd;
	}
	poll(&p, 1, 0);
	sn.queued = p.revents & POLLIN;
	sn.room = sn.zero_wnd &&
		  mem[SK_MEMINFO_RMEM_ALLOC] < mem[SK_MEMINFO_RCVBUF] / 2;
	/*
	 * With nothing queued for recvmsg, what the parser took from TCP
	 * beyond the messages read is the start of the next one.
	 */
	if (!sn.queued && k->next < k->nmsg && strcmp(what, "error")) {
		long parsed = (long)ts.bytes_received - 6 - held, read = 0;
		long frame = k->len[k->next] + 2, need;
		int i;

		for (i = 0; i < k->next; i++)
			read += k->len[i] + 2;
		need = frame - (parsed - read);
		sn.starved = need > held;
		if (print)
			rdiag("reader %#llx: %s: the parser has %ld of message %d's %ld bytes (frame), %ld more to come; TCP holds %d%s",
			      (unsigned long long)k->seed, what, parsed - read,
			      k->next, frame, need, held,
			      sn.starved ? ", fewer: strparser waits until TCP's queue holds them all" : "");
	}
	if (!print)
		return sn;
	rdiag("reader %#llx: %s: server: state %u, %d bytes in TCP, rmem_alloc %u of rcvbuf %u, fwd_alloc %u, backlog %u, drops %u, revents %#x; rcv_space %u, rcv_ssthresh %u, rcv_mss %u, rcv_wscale %u, last data %u ms ago, %llu bytes received",
	      (unsigned long long)k->seed, what, ts.b.tcpi_state, held,
	      mem[SK_MEMINFO_RMEM_ALLOC], mem[SK_MEMINFO_RCVBUF],
	      mem[SK_MEMINFO_FWD_ALLOC], mem[SK_MEMINFO_BACKLOG],
	      mem[SK_MEMINFO_DROPS], p.revents, ts.b.tcpi_rcv_space,
	      ts.b.tcpi_rcv_ssthresh, ts.b.tcpi_rcv_mss, ts.b.tcpi_rcv_wscale,
	      ts.b.tcpi_last_data_recv,
	      (unsigned long long)ts.bytes_received);
	if (k->c >= 0)
		rdiag("reader %#llx: %s: client: state %u, snd_wnd %u, unacked %u, notsent %u, probes %u, backoff %u, rto %u us, last ack %u ms ago, %llu bytes acked, rwnd_limited %llu us",
		      (unsigned long long)k->seed, what, tc.b.tcpi_state,
		      tc.snd_wnd, tc.b.tcpi_unacked, tc.notsent_bytes,
		      tc.b.tcpi_probes, tc.b.tcpi_backoff, tc.b.tcpi_rto,
		      tc.b.tcpi_last_ack_recv,
		      (unsigned long long)tc.bytes_acked,
		      (unsigned long long)tc.rwnd_limited);
	if (!ss)
		return sn;
	pthread_mutex_lock(&rd_out);
	snprintf(cmd, sizeof(cmd),
		 "ip netns exec srv ss -tmieon 'sport = :%d' 2>/dev/null | sed 's/^/# ss srv: /'; ip netns exec cli ss -tmieon 'dport = :%d' 2>/dev/null | sed 's/^/# ss cli: /'",
		 port, port);
	fflush(stdout);
	if (system(cmd))
		diag("reader: %s failed", cmd);
	pthread_mutex_unlock(&rd_out);
	return sn;
}

static const char *rd_flags(int fl, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s%s%s%s", fl & MSG_PEEK ? "PEEK " : "",
		 fl & MSG_TRUNC ? "TRUNC " : "", fl & MSG_DONTWAIT ? "DONTWAIT " : "",
		 fl & MSG_WAITALL ? "WAITALL " : "", fl & MSG_OOB ? "OOB " : "",
		 fl & MSG_ERRQUEUE ? "ERRQUEUE " : "");
	return buf;
}

static void *rd_reader(void *arg)
{
	struct rconn *k = arg;
	struct rng r = { k->seed };
	uint8_t *got = malloc(65536), *want = malloc(MAX_MSG);
	double last, t0;
	bool pollin = false;
	char pfx[6], fb[64];

	/* the prefix, on plain TCP */
	errno = 0;
	if (!readable(k->s, 10000) || recv(k->s, pfx, 6, MSG_WAITALL) != 6 ||
	    memcmp(pfx, "IKETCP", 6)) {
		if (k->rst && errno == ECONNRESET) {
			k->reset = true;
			if (!k->ulp_late)
				sem_post(&k->go);
			goto out;
		}
		rdiag("reader %#llx: no IKETCP prefix", (unsigned long long)k->seed);
		k->bad = true;
		if (!k->ulp_late)
			sem_post(&k->go);
		goto out;
	}
	if (k->rcvbuf && !k->rcvbuf_listener)
		setsockopt(k->s, SOL_SOCKET, SO_RCVBUF, &k->rcvbuf,
			   sizeof(k->rcvbuf));
	if (k->rcvtimeo) {
		struct timeval tmo = { k->rcvtimeo / 1000,
				       k->rcvtimeo % 1000 * 1000 };

		setsockopt(k->s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	}
	if (k->ulp_late)	/* bytes arrive meanwhile */
		usleep(below(&r, 50000));
	if (ike_sock_ulp(k->s)) {
		rdiag("reader %#llx: setsockopt(TCP_ULP): %s",
		      (unsigned long long)k->seed, strerror(errno));
		k->bad = true;
	}
	if (!k->ulp_late)
		sem_post(&k->go);
	if (k->bad)
		goto out;

	t0 = last = now();
	while (!k->eof) {
		unsigned int op = below(&r, 100);
		struct iovec iov;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		size_t buf, exp, cmp;
		uint32_t len;
		ssize_t n;
		int fl;

		if (k->aborted) {
			/* what a reader that goes on sees */
			if (now() - (last > k->aborted_at ? last : k->aborted_at) > RD_AFTER)
				break;
		} else if (!k->slow && now() - last > RD_SLOW) {
			long nslow = __atomic_add_fetch(&rd_sum.slow, 1,
							__ATOMIC_RELAXED);
			struct rd_snap sn;
			char what[48];

			snprintf(what, sizeof(what), "slow, message %d", k->next);
			sn = rd_report(k, what, nslow <= RD_SLOW_PRINTS, false);
			k->slow = true;
			__atomic_add_fetch(&rd_sum.slow_queued, sn.queued, __ATOMIC_RELAXED);
			__atomic_add_fetch(&rd_sum.slow_starved, sn.starved, __ATOMIC_RELAXED);
			__atomic_add_fetch(&rd_sum.slow_zero_wnd, sn.zero_wnd, __ATOMIC_RELAXED);
			__atomic_add_fetch(&rd_sum.slow_room, sn.room, __ATOMIC_RELAXED);
		}
		if (!k->stalled && rd_end_lost(k, now() - last)) {
			rdiag("reader %#llx: all %d messages read; the client's %s never came (lost to a failed allocation)",
			      (unsigned long long)k->seed, k->next,
			      k->rst ? "reset" : "FIN");
			k->end_lost = true;
			break;
		}
		if (!k->stalled && !k->aborted && now() - last > RD_STALL) {
			k->stalled = true;
			k->stall_wait = now() - last;
			rdiag("reader %#llx: stalled: %d of %d messages read, nothing for %.1f s (%.1f s since the ULP); writer %s: %d messages, %zu of the frames' bytes, errno %d; rcvbuf %d%s, rcvtimeo %d ms, ULP %s, %s",
			      (unsigned long long)k->seed, k->next,
			      k->rst ? k->whole : k->nmsg, k->stall_wait,
			      now() - t0,
			      __atomic_load_n(&k->wdone, __ATOMIC_ACQUIRE) ? "done" : "not done",
			      __atomic_load_n(&k->wmsgs, __ATOMIC_RELAXED),
			      __atomic_load_n(&k->wbytes, __ATOMIC_RELAXED),
			      k->werr, k->rcvbuf,
			      k->rcvbuf_listener ? " (listener)" : "",
			      k->rcvtimeo, k->ulp_late ? "late" : "early",
			      k->rst ? "RST" : "FIN");
			k->starved = rd_report(k, "stalled", true, true).starved;
		}
		if (k->stalled && now() - last > RD_STALL + (RD_PHASES + 1) * RD_PHASE)
			break;	/* stalled again after it recovered */
		if (k->stalled && !k->recovered &&
		    now() - last > RD_STALL + (k->phase + 1) * RD_PHASE) {
			static const char *const after[] = {
				"unchanged", "raised", "poked" };

			rd_report(k, after[k->phase], true, false);
			if (++k->phase == RD_PHASES)
				break;	/* watched it long enough */
			if (k->phase == RD_RAISED) {
				/* up to twice net.core.rmem_max */
				int big = 1 << 20;

				setsockopt(k->s, SOL_SOCKET, SO_RCVBUF, &big,
					   sizeof(big));
			} else {
				uint8_t m[100];

				fill_msg(m, sizeof(m), 0);
				send(k->s, m, sizeof(m), MSG_DONTWAIT);
			}
			rdiag("reader %#llx: %.1f s without progress: %s",
			      (unsigned long long)k->seed, now() - last,
			      k->phase == RD_RAISED ? "SO_RCVBUF raised" :
			      "the server sent 100 bytes");
		}
		if (op < 4) {		/* let the queue fill */
			usleep(below(&r, 200000));
			continue;
		}
		if (op < 34) {
			struct pollfd p = { .fd = k->s,
					    .events = POLLIN | POLLRDHUP };

			if (poll(&p, 1, 1 + below(&r, 50)) < 0) {
				rdiag("reader %#llx: poll: %s",
				      (unsigned long long)k->seed, strerror(errno));
				k->bad = true;
				break;
			}
			pollin = p.revents & POLLIN;
			continue;
		}
		if (op < 38) {		/* TCP's flags: errors, no message taken */
			bool oob = below(&r, 2);

			fl = oob ? MSG_OOB : MSG_ERRQUEUE;
			fl |= below(&r, 2) ? MSG_DONTWAIT : 0;
			fl |= below(&r, 4) ? 0 : MSG_PEEK;
			errno = 0;
			n = recv(k->s, got, 1 + below(&r, 65536), fl);
			if (n != -1 || errno != (oob ? EINVAL : EAGAIN)) {
				rdiag("reader %#llx: recv(%s) = %zd, errno %d (%s), want %s",
				      (unsigned long long)k->seed,
				      rd_flags(fl, fb, sizeof(fb)), n, errno,
				      strerror(errno), oob ? "EINVAL" : "EAGAIN");
				k->bad = true;
				break;
			}
			k->oobs++;
			continue;
		}

		/* a message, or as much of it as fits */
		len = k->next < k->nmsg ? k->len[k->next] : 0;
		switch (below(&r, 10)) {
		case 0:
		case 1:
			buf = 1 + below(&r, len + 16);	/* around its size */
			break;
		case 2:
			buf = 1 + below(&r, 64);
			break;
		default:
			buf = 65536;
		}
		fl = below(&r, 4) ? 0 : MSG_PEEK;
		fl |= below(&r, 4) ? 0 : MSG_TRUNC;
		fl |= below(&r, 4) ? 0 : MSG_WAITALL;
		/* blocking only where it cannot hang: see pollin */
		if (below(&r, 2) || (!pollin && !k->rcvtimeo))
			fl |= MSG_DONTWAIT;
		if (!(fl & MSG_DONTWAIT))
			k->blocking++;
		iov = (struct iovec){ got, buf };
		n = recvmsg(k->s, &mh, fl);
		if (n < 0) {
			pollin = false;
			if (errno == EAGAIN && (fl & MSG_DONTWAIT || k->rcvtimeo)) {
				k->eagains++;
				continue;
			}
			if (errno == ECONNRESET && k->rst && !k->reset) {
				k->reset = true;
				continue;
			}
			if (k->aborted && (errno == ETIMEDOUT || errno == EMSGSIZE))
				continue;	/* said once */
			if (errno == ETIMEDOUT)
				__atomic_add_fetch(&rd_sum.timer, 1, __ATOMIC_RELAXED);
			else if (errno == EMSGSIZE)
				__atomic_add_fetch(&rd_sum.msgsize, 1, __ATOMIC_RELAXED);
			else
				__atomic_add_fetch(&rd_sum.errors, 1, __ATOMIC_RELAXED);
			rdiag("reader %#llx: recv(%s) after %d of %d messages: %s%s",
			      (unsigned long long)k->seed,
			      rd_flags(fl, fb, sizeof(fb)), k->next, k->nmsg,
			      strerror(errno),
			      errno == ETIMEDOUT ? " (the parser's message timer: SO_RCVTIMEO)" :
			      errno == EMSGSIZE ? " (strparser's limit: a message longer than sk_rcvbuf)" : "");
			k->bad = true;
			rd_report(k, "error", true, true);
			if (errno != ETIMEDOUT && errno != EMSGSIZE)
				break;
			/* the parser gave up: does the reader see EOF? */
			k->aborted = errno;
			k->aborted_at = now();
			continue;
		}
		if (n == 0) {
			k->eof = true;
			break;
		}
		if (k->next >= (k->rst ? k->whole : k->nmsg)) {
			rdiag("reader %#llx: %zd bytes beyond the %d messages sent",
			      (unsigned long long)k->seed, n,
			      k->rst ? k->whole : k->nmsg);
			k->bad = true;
			break;
		}
		fill_msg(want, len, k->id0 + k->next);
		cmp = len < buf ? len : buf;
		exp = fl & MSG_TRUNC ? len : cmp;
		if ((size_t)n != exp || memcmp(got, want, cmp) ||
		    !(mh.msg_flags & MSG_TRUNC) != (buf >= len)) {
			uint32_t id = ~0u;

			if (cmp >= HDR)
				memcpy(&id, got + 8, 4);
			rdiag("reader %#llx: message %d (%u bytes, buffer %zu, %s): recv = %zd, want %zu; %s, msg_flags %#x, id %#x want %#x",
			      (unsigned long long)k->seed, k->next, len, buf,
			      rd_flags(fl, fb, sizeof(fb)), n, exp,
			      memcmp(got, want, (size_t)n < cmp ? (size_t)n : cmp) ?
			      "bytes differ" : "bytes match",
			      mh.msg_flags, id, k->id0 + k->next);
			k->bad = true;
			break;
		}
		k->shorts += buf < len;
		k->truncs += !!(fl & MSG_TRUNC);
		if (fl & MSG_PEEK) {
			k->peeks++;
			continue;
		}
		pollin = false;
		k->next++;
		k->after_abort += !!k->aborted;
		if (k->stalled && !k->recovered) {
			k->recovered = true;
			k->recovered_after = now() - last;
			rdiag("reader %#llx: recovered: message %d came %.1f s after the one before, %s",
			      (unsigned long long)k->seed, k->next,
			      k->recovered_after, rd_phase_names[k->phase]);
			__atomic_add_fetch(&rd_sum.recovered_in[k->phase], 1,
					   __ATOMIC_RELAXED);
		}
		if (k->slow) {
			double gap = now() - last;

			pthread_mutex_lock(&rd_out);
			if (gap > rd_sum.slow_max)
				rd_sum.slow_max = gap;
			pthread_mutex_unlock(&rd_out);
			k->slow = false;
		}
		last = now();
	}

	if (k->aborted) {
		rdiag("reader %#llx: after %s, %d more messages, %s within %.0f s",
		      (unsigned long long)k->seed, strerror(k->aborted),
		      k->after_abort, k->eof ? "then EOF" : "no EOF", RD_AFTER);
		__atomic_add_fetch(&rd_sum.aborted_eof, k->eof, __ATOMIC_RELAXED);
	}
	/* everything before FIN, then EOF; a prefix with RST */
	if (k->end_lost) {
		__atomic_add_fetch(&rd_sum.end_lost, 1, __ATOMIC_RELAXED);
	} else if (!k->bad && !k->rst && (!k->eof || k->next != k->nmsg)) {
		if (!k->stalled)
			rdiag("reader %#llx: %s after %d of %d messages",
			      (unsigned long long)k->seed,
			      k->eof ? "EOF" : "no EOF", k->next, k->nmsg);
		else
			rdiag("reader %#llx: still stalled after %.0f s more (%.0f s as it was, %.0f s with a large SO_RCVBUF, %.0f s after the server sent a segment): %d of %d messages read%s",
			      (unsigned long long)k->seed, RD_PHASES * RD_PHASE,
			      RD_PHASE, RD_PHASE, RD_PHASE, k->next,
			      k->nmsg, k->eof ? ", then EOF" : ", no EOF");
		k->bad = true;
	}
	if (!k->bad && k->rst && !k->eof && !k->reset && !k->end_lost) {
		rdiag("reader %#llx: neither EOF nor ECONNRESET after %d of %d messages",
		      (unsigned long long)k->seed, k->next, k->whole);
		k->bad = true;
	}
	if (k->stalled && !k->bad) {
		/* it came back, but far later than it may */
		rdiag("reader %#llx: every message read after the stall, %.1f s late",
		      (unsigned long long)k->seed, k->recovered_after);
		k->bad = true;
	}
out:
	free(got);
	free(want);
	return NULL;
}

/* a round's own sequence, not the run's: its seed is the run's next number */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (x ^ (x >> 31)) ?: 1;
}

static bool reader_round(uint64_t seed)
{
	static struct rconn ks[RD_MAX_CONNS];
	struct rng r = { mix(seed) };
	pthread_t tw[RD_MAX_CONNS], tr[RD_MAX_CONNS];
	int n = 16 + below(&r, RD_MAX_CONNS - 16 + 1), i, j, made = 0;
	bool ok = true;

	for (i = 0; i < n; i++) {
		struct rconn *k = &ks[i];
		size_t total = 0;

		*k = (struct rconn){ .c = -1, .s = -1 };
		k->seed = rnd(&r);
		k->family = below(&r, 2) ? AF_INET6 : AF_INET;
		k->nmsg = 1 + below(&r, RD_MAX_MSGS);
		k->id0 = (uint32_t)rnd(&r) & ~0xffu;
		for (j = 0; j < k->nmsg; j++) {
			k->len[j] = rd_len(&r);
			total += k->len[j] + 2;
		}
		k->rst = !below(&r, 8);
		k->cut = below(&r, total + 1);
		for (j = 0, total = 0; j < k->nmsg; j++) {
			total += k->len[j] + 2;
			if (total <= k->cut)
				k->whole = j + 1;
		}
		if (below(&r, 5) < 2) {
			k->rcvbuf = 4096 + below(&r, 65536 - 4096 + 1);
			k->rcvbuf_listener = below(&r, 2);
		}
		k->rcvtimeo = below(&r, 8) ? 0 : 100 + below(&r, 1900);
		k->ulp_late = below(&r, 3) == 0;
		sem_init(&k->go, 0, 0);
		if (rd_pair(k)) {
			ok = false;
			break;
		}
		made++;
	}
	for (i = 0; i < made; i++) {
		pthread_create(&tr[i], NULL, rd_reader, &ks[i]);
		pthread_create(&tw[i], NULL, rd_writer, &ks[i]);
	}
	for (i = 0; i < made; i++)
		pthread_join(tr[i], NULL);
	/* a writer stuck on a reader that gave up: the reset frees it */
	for (i = 0; i < made; i++) {
		struct linger lg = { 1, 0 };

		if (ks[i].bad)
			setsockopt(ks[i].s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(ks[i].s);
	}
	for (i = 0; i < made; i++) {
		struct rconn *k = &ks[i];

		pthread_join(tw[i], NULL);
		if (k->c >= 0)
			close(k->c);
		sem_destroy(&k->go);
		ok &= !k->bad;
		rd_sum.conns++;
		rd_sum.fin += !k->rst;
		rd_sum.rst += k->rst;
		rd_sum.msgs += k->next;
		rd_sum.stalls += k->stalled;
		rd_sum.starved += k->starved;
		rd_sum.small_rcvbuf += k->rcvbuf != 0;
		rd_sum.late_ulp += k->ulp_late;
		rd_sum.rcvtimeo += k->rcvtimeo != 0;
	}
	if (!ok)
		diag("reader %#llx failed: %d connections", (unsigned long long)seed,
		     made);
	return ok;
}

static const char *const kind_names[] = { "stream", "calls", "reader" };
#define NKINDS 3

static bool run_round(int kind, uint64_t seed)
{
	switch (kind) {
	case 0:
		return stream_round(seed);
	case 1:
		return calls_round(seed);
	default:
		return reader_round(seed);
	}
}

int main(int argc, char **argv)
{
	uint64_t seed;
	double secs, end;
	struct rng r;
	long rounds[NKINDS] = { 0 }, bad[NKINDS] = { 0 };
	int i, only = -1;

	if (argc == 4) {
		for (i = 0; i < NKINDS; i++)
			if (!strcmp(argv[3], kind_names[i]))
				only = i;
	}
	if ((argc != 3 && argc != 4) || (argc == 4 && only < 0)) {
		fprintf(stderr, "usage: fuzz SEED SECONDS [stream|calls|reader]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (!netns_open())
		return 1;
	seed = strtoull(argv[1], NULL, 0) ?: 1;
	secs = atof(argv[2]);
	r.s = seed;
	diag("fuzz: seed %#llx, %.0f s%s%s", (unsigned long long)seed, secs,
	     only >= 0 ? ", rounds: " : "", only >= 0 ? kind_names[only] : "");

	end = now() + secs;
	do {
		/* secs 0: replay the round whose seed is SEED */
		uint64_t rs = secs > 0 ? rnd(&r) : seed;
		/* the default mix, stream and calls, as before there were more */
		int kind = only >= 0 ? only : (int)(rs & 1);
		bool ok = run_round(kind, rs);

		rounds[kind]++;
		if (!ok) {
			bad[kind]++;
			diag("fuzz: round %s %#llx failed: replay with fuzz %#llx 0 %s",
			     kind_names[kind], (unsigned long long)rs,
			     (unsigned long long)rs, kind_names[kind]);
		}
	} while (now() < end);

	if (rounds[2]) {
		diag("reader: %ld connections (%ld FIN, %ld RST; %ld with a small SO_RCVBUF, %ld ULP late, %ld SO_RCVTIMEO), %ld messages read; %ld ETIMEDOUT, %ld EMSGSIZE (the parser gave up; EOF within %.0f s after that: %ld), %ld other errors, %ld ends lost (FUZZ_LOSSY)",
		     rd_sum.conns, rd_sum.fin, rd_sum.rst, rd_sum.small_rcvbuf,
		     rd_sum.late_ulp, rd_sum.rcvtimeo, rd_sum.msgs,
		     rd_sum.timer, rd_sum.msgsize, RD_AFTER, rd_sum.aborted_eof,
		     rd_sum.errors, rd_sum.end_lost);
		diag("reader: %ld gaps of over %.0f s between messages (the longest that ended %.1f s): %ld with a message queued, %ld with the parser waiting for more than TCP held, %ld with a zero window at the client, %ld of those with the server's buffer half empty",
		     rd_sum.slow, RD_SLOW, rd_sum.slow_max, rd_sum.slow_queued,
		     rd_sum.slow_starved, rd_sum.slow_zero_wnd, rd_sum.slow_room);
		diag("reader: %ld stalled for %.0f s (%ld with the parser waiting for more than TCP held); recovered %s %ld, %s %ld, %s %ld",
		     rd_sum.stalls, RD_STALL, rd_sum.starved,
		     rd_phase_names[0], rd_sum.recovered_in[0],
		     rd_phase_names[1], rd_sum.recovered_in[1],
		     rd_phase_names[2], rd_sum.recovered_in[2]);
	}
	for (i = 0; i < NKINDS; i++) {
		if (!rounds[i] && (only >= 0 || i == 2))
			continue;	/* a kind this run does not pick */
		printf("%sok - fuzz: %ld %s rounds, %ld failed (seed %#llx)\n",
		       bad[i] ? "not " : "", rounds[i], kind_names[i], bad[i],
		       (unsigned long long)seed);
	}
	for (i = 0; i < NKINDS; i++)
		if (bad[i])
			return 1;
	return 0;
}
