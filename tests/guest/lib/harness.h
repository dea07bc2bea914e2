/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The harness of the C suites the guest runs after topo_up (lib/netns.sh):
 * ulp_test.c, the ULP's socket semantics, and esp_stream_test.c, ESP in
 * the stream. The client end of every connection is created in netns
 * "cli", the server end in "srv", so the bytes cross the veth pair whose tc
 * filters pass TCP only. One process does both ends, switching netns with
 * setns() to create sockets.
 *
 * A suite defines tests[] and n_tests; main() in suite.c runs each test for
 * IPv4 and IPv6 (the argument, if any, picks the tests whose name holds it)
 * and prints one unnumbered TAP line per test and family ("ok - ..." /
 * "not ok - ..."), diagnostics prefixed with "# ". Other programs (fuzz.c)
 * link harness.c alone and call netns_open() from their own main().
 */
#ifndef _TESTS_LIB_HARNESS_H
#define _TESTS_LIB_HARNESS_H

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

extern const char *const ns_names[];
extern const char *const addr4[];
extern const char *const addr6[];

extern bool failed;	/* the running test has failed */
extern const char *skip_reason;	/* set: the running test skips, saying why */

void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

/* snapshot of one counter, to assert exact deltas */
struct ctr {
	int ns;
	const char *name;
	long start;
};

#define CHECK_DELTA(c, want)						\
	CHECK(delta(&(c)) == (long)(want), "%s[%s] moved by %ld, want %ld", \
	      (c).name, ns_names[(c).ns], delta(&(c)), (long)(want))

/* ulp: which ends get the ULP; the other end stays plain TCP */
#define ULP_CLI 1
#define ULP_SRV 2

bool netns_open(void);
void enter(int ns);
long proc_get(int ns, const char *file, const char *name);
long stat_get(int ns, const char *name);
struct ctr ctr(int ns, const char *name);
long delta(const struct ctr *c);
socklen_t mkaddr(int family, int who, int port, struct sockaddr_storage *ss);
int tcp_pair(int family, int *c, int *s);
int tcp_pair_rcvbuf(int family, int rcvbuf, int *c, int *s);
int client_start(int c);
int server_start(int s);
int espintcp_pair(int family, int ulp, int *c, int *s);
void fill_ike(uint8_t *buf, size_t len, unsigned int seed);
size_t put_frame(uint8_t *out, const uint8_t *msg, size_t len);
bool readable(int fd, int ms);
ssize_t recv_msg(int fd, void *buf, size_t len, int flags);
bool expect_msg(int fd, const uint8_t *want, size_t len);
bool nothing_queued(int fd);
void close2(int a, int b);
int port_of(int fd, bool peer);
ssize_t read_frame(int s, uint8_t *buf);
int inq(int fd);

struct test {
	const char *name;
	void (*fn)(int family);
	bool once;	/* IPv4 only: it loads or unloads the module */
};

#define TEST(name, fn)		{ name, fn, false }
#define TEST_ONCE(name, fn)	{ name, fn, true }

extern const struct test tests[];
extern const unsigned int n_tests;

#endif
