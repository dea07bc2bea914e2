/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the guest's IKE programs (ike_pair, ike_node, ike_demo) share
 * besides their socket calls (ike_sock.h): giving up with a reason, those
 * calls for a program that stops at the first failure, and entering a
 * network namespace by name. Include it after defining _GNU_SOURCE.
 */
#ifndef _TESTS_LIB_PROG_H
#define _TESTS_LIB_PROG_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ike_sock.h"

/* "PROGRAM: WHAT: errno's text" on stderr, and exit status 1 */
static inline void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		strerror(errno));
	exit(1);
}

static inline void ike_sock_bypass_or_die(int fd, int family)
{
	if (ike_sock_bypass(fd, family))
		die("setsockopt IP_XFRM_POLICY");
}

static inline void ike_sock_ulp_or_die(int fd)
{
	if (ike_sock_ulp(fd))
		die("setsockopt TCP_ULP espintcp");
}

/* into the namespace `ip netns add NAME` made */
static inline void netns_enter(const char *name)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/var/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		die(path);
	close(fd);
}

#endif
