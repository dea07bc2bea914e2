/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the guest test programs. */
#ifndef _TESTS_SOCKADDR_H
#define _TESTS_SOCKADDR_H

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

/* fill @ss with the IPv4 or IPv6 address @ip and @port; returns its length */
static inline socklen_t sockaddr_fill(int family, const char *ip, int port,
				      struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		inet_pton(AF_INET, ip, &sin->sin_addr);
		return sizeof(*sin);
	}

	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &sin6->sin6_addr);
	return sizeof(*sin6);
}

#endif
