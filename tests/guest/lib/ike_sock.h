/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an IKE daemon does to its TCP socket, shared by the guest test
 * programs: exempt it from xfrm policies, and set the espintcp ULP. Both
 * return setsockopt()'s result.
 */
#ifndef _TESTS_IKE_SOCK_H
#define _TESTS_IKE_SOCK_H

#include <linux/xfrm.h>
#include <netinet/in.h>
#include <sys/socket.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif
#ifndef SOL_TCP
#define SOL_TCP 6
#endif

/* so that the connection's own packets are not encrypted */
static inline int ike_sock_bypass(int fd, int family)
{
	struct xfrm_userpolicy_info pol = {
		.action = XFRM_POLICY_ALLOW,
		.sel.family = family,
	};
	int level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	int opt = family == AF_INET ? IP_XFRM_POLICY : IPV6_XFRM_POLICY;

	pol.dir = XFRM_POLICY_OUT;
	if (setsockopt(fd, level, opt, &pol, sizeof(pol)))
		return -1;
	pol.dir = XFRM_POLICY_IN;
	return setsockopt(fd, level, opt, &pol, sizeof(pol));
}

static inline int ike_sock_ulp(int fd)
{
	return setsockopt(fd, SOL_TCP, TCP_ULP, "espintcp", sizeof("espintcp"));
}

#endif
