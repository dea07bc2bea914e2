/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels the module is built for (Debian's 5.10
 * to 7.x), in one place. scripts/gen-features.sh compiles a probe for each
 * difference against the kernel's headers and writes what it found to
 * espintcp_features.h; the rest of the module is written for the newest
 * kernel and calls the helpers here where older ones differ.
 */
#ifndef _ESPINTCP_COMPAT_H
#define _ESPINTCP_COMPAT_H

#include <net/inet_hashtables.h>
#include <net/inet6_hashtables.h>
#include <net/sock.h>
#include <net/xfrm.h>

#include "espintcp_features.h"

/* before Linux 5.14 the socket's callback was called directly */
#ifndef HAVE_SK_ERROR_REPORT
static inline void sk_error_report(struct sock *sk)
{
	sk->sk_error_report(sk);
}
#endif

/* the device of the connection's cached input route */
static inline int espintcp_rx_dst_ifindex(const struct sock *sk)
{
#ifdef HAVE_SK_RX_DST_IFINDEX
	return READ_ONCE(sk->sk_rx_dst_ifindex);
#else
	return READ_ONCE(inet_sk(sk)->rx_dst_ifindex);
#endif
}

/*
 * TCP's established sockets. Older kernels take TCP's hash table as an
 * argument; newer ones find it through the netns, as it is given here.
 */
static inline struct sock *
espintcp_inet_lookup_established(struct net *net, __be32 saddr, __be16 sport,
				 __be32 daddr, u16 hnum)
{
#ifdef HAVE_INET_LOOKUP_ESTABLISHED_HASHINFO
	return __inet_lookup_established(net, net->ipv4.tcp_death_row.hashinfo,
					 saddr, sport, daddr, hnum, 0, 0);
#else
	return __inet_lookup_established(net, saddr, sport, daddr, hnum, 0, 0);
#endif
}

static inline struct sock *
espintcp_inet6_lookup_established(struct net *net,
				  const struct in6_addr *saddr, __be16 sport,
				  const struct in6_addr *daddr, u16 hnum)
{
#ifdef HAVE_INET_LOOKUP_ESTABLISHED_HASHINFO
	return __inet6_lookup_established(net,
					  net->ipv4.tcp_death_row.hashinfo,
					  saddr, sport, daddr, hnum, 0, 0);
#else
	return __inet6_lookup_established(net, saddr, sport, daddr, hnum, 0, 0);
#endif
}

/*
 * xfrm_type's init_state takes an extack since Linux 6.1. Before, the
 * module's messages for userspace are not seen: only the error is.
 */
static inline int espintcp_type_init_state(const struct xfrm_type *type,
					   struct xfrm_state *x,
					   struct netlink_ext_ack *extack)
{
#ifdef HAVE_XFRM_TYPE_INIT_STATE_EXTACK
	return type->init_state(x, extack);
#else
	return type->init_state(x);
#endif
}

#ifdef HAVE_XFRM_TYPE_INIT_STATE_EXTACK
#define espintcp_init_state_op espintcp_init_state
#else
static inline int espintcp_init_state_op(struct xfrm_state *x)
{
	return espintcp_init_state(x, NULL);
}
#endif

/*
 * struct proto's recvmsg: espintcp_recvmsg() has the newest form, (sk,
 * msg, len, flags), as in Debian's 7.x kernels. Older kernels pass the
 * address length inet_recvmsg() will report, and until Linux 5.19 they
 * pass MSG_DONTWAIT as a separate noblock argument. MSG_ERRQUEUE is not
 * about messages: TCP answers it, with the address length where it is
 * passed.
 */
#if defined(HAVE_PROTO_RECVMSG_NOBLOCK)
static inline int espintcp_recvmsg_op(struct sock *sk, struct msghdr *msg,
				      size_t len, int noblock, int flags,
				      int *addr_len)
{
	if (flags & MSG_ERRQUEUE)
		return espintcp_sk(sk)->base_prot->recvmsg(sk, msg, len,
							    noblock, flags,
							    addr_len);
	return espintcp_recvmsg(sk, msg, len,
				flags | (noblock ? MSG_DONTWAIT : 0));
}
#elif defined(HAVE_PROTO_RECVMSG_ADDR_LEN)
static inline int espintcp_recvmsg_op(struct sock *sk, struct msghdr *msg,
				      size_t len, int flags, int *addr_len)
{
	if (flags & MSG_ERRQUEUE)
		return espintcp_sk(sk)->base_prot->recvmsg(sk, msg, len, flags,
							    addr_len);
	return espintcp_recvmsg(sk, msg, len, flags);
}
#else
static inline int espintcp_recvmsg_op(struct sock *sk, struct msghdr *msg,
				      size_t len, int flags)
{
	if (flags & MSG_ERRQUEUE)
		return espintcp_sk(sk)->base_prot->recvmsg(sk, msg, len, flags);
	return espintcp_recvmsg(sk, msg, len, flags);
}
#endif

#endif /* _ESPINTCP_COMPAT_H */
