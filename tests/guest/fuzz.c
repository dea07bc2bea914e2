// SPDX-License-Identifier: GPL-2.0
/*
 * A bounded, seeded fuzzer for the espintcp ULP, run in the guest between
 * netns cli and srv (tests/guest/60-fuzz.sh). It checks integrity as well
 * as survival: the kernel log is checked by the harness afterwards.
 *
 *   fuzz SEED SECONDS	rounds until SECONDS have passed; each round
 *			prints its own seed, and "fuzz SEED" with that
 *			round seed and SECONDS 0 replays that round alone
 *
 * Rounds, picked at random:
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
 *
 * Output: "ok - ..." / "not ok - ..." per round kind at the end, "# ..."
 * diagnostics; exit status 1 on any failure.
 */
#include "lib/harness.h"

#include <pthread.h>

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
			diag("stream %#llx: nothing readable for 10 s after %d of %d messages",
			     (unsigned long long)seed, next, nike);
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

int main(int argc, char **argv)
{
	uint64_t seed;
	double secs, end;
	struct rng r;
	long rounds[2] = { 0 }, bad[2] = { 0 };
	static const char *const names[] = { "stream", "calls" };
	int i;

	if (argc != 3) {
		fprintf(stderr, "usage: fuzz SEED SECONDS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (!netns_open())
		return 1;
	seed = strtoull(argv[1], NULL, 0) ?: 1;
	secs = atof(argv[2]);
	r.s = seed;
	diag("fuzz: seed %#llx, %.0f s", (unsigned long long)seed, secs);

	end = now() + secs;
	do {
		/* secs 0: replay the round whose seed is SEED */
		uint64_t rs = secs > 0 ? rnd(&r) : seed;
		int kind = rs & 1;
		bool ok = kind ? calls_round(rs) : stream_round(rs);

		rounds[kind]++;
		if (!ok) {
			bad[kind]++;
			diag("fuzz: round %s %#llx failed: replay with fuzz %#llx 0",
			     names[kind], (unsigned long long)rs,
			     (unsigned long long)rs);
		}
	} while (now() < end);

	for (i = 0; i < 2; i++)
		printf("%sok - fuzz: %ld %s rounds, %ld failed (seed %#llx)\n",
		       bad[i] ? "not " : "", rounds[i], names[i], bad[i],
		       (unsigned long long)seed);
	return bad[0] || bad[1];
}
