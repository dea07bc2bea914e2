// SPDX-License-Identifier: GPL-2.0
/*
 * ESP output of TCP states, taken out of the IP stack at LOCAL_OUT, where
 * every packet xfrm transforms passes, before it can reach the wire.
 *
 * esp4/esp6 build these packets as ESP-in-UDP (see xfrm.c). The frame for
 * the stream is the ESP packet behind a 2-byte length, which goes where the
 * UDP header's last two bytes were. The TCP connection is the one whose
 * addresses and ports are the state's addresses and encap ports; with none,
 * or one without the ULP, the packet is dropped and counted: it must not
 * leave as UDP.
 */
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/udp.h>
#include <net/inet6_hashtables.h>
#include <net/inet_hashtables.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/tcp.h>
#include <net/xfrm.h>

#include "espintcp.h"

static struct sock *espintcp_state_sk(struct net *net, struct xfrm_state *x)
{
	struct inet_hashinfo *hinfo = net->ipv4.tcp_death_row.hashinfo;
	__be16 sport, dport;
	struct sock *sk;

	spin_lock_bh(&x->lock);
	sport = x->encap->encap_sport;
	dport = x->encap->encap_dport;
	spin_unlock_bh(&x->lock);

	if (x->props.family == AF_INET6)
		sk = __inet6_lookup_established(net, hinfo, &x->id.daddr.in6,
						dport, &x->props.saddr.in6,
						ntohs(sport), 0, 0);
	else
		sk = __inet_lookup_established(net, hinfo, x->id.daddr.a4,
					       dport, x->props.saddr.a4,
					       ntohs(sport), 0, 0);
	if (sk && !sk_fullsock(sk)) {
		sock_gen_put(sk);
		sk = NULL;
	}
	return sk;
}

/* @off: where the UDP header starts */
static unsigned int espintcp_divert(struct net *net, struct sk_buff *skb,
				    const xfrm_address_t *daddr,
				    unsigned short family, unsigned int off)
{
	struct espintcp_sock *esk;
	struct xfrm_state *x;
	struct sock *sk;
	__be32 _spi;
	const __be32 *spi;

	spi = skb_header_pointer(skb, off + sizeof(struct udphdr),
				 sizeof(_spi), &_spi);
	if (!spi || !*spi)	/* IKE over UDP */
		return NF_ACCEPT;

	x = xfrm_state_lookup(net, skb->mark, daddr, *spi, IPPROTO_ESP, family);
	if (!x)
		return NF_ACCEPT;
	if (!espintcp_is_tcp_state(x)) {
		xfrm_state_put(x);
		return NF_ACCEPT;
	}
	sk = espintcp_state_sk(net, x);
	xfrm_state_put(x);

	esk = sk ? espintcp_sk_rcu(sk) : NULL;
	if (!esk) {
		espintcp_net_stat_add(net, ESPINTCP_TX_DROP_NOSOCK, 1);
		kfree_skb(skb);
		goto out;
	}

	/* [len][ESP] in place of [UDP header][ESP] */
	if (skb_ensure_writable(skb, off + sizeof(struct udphdr))) {
		espintcp_stat_add(sk, ESPINTCP_TX_DROP_ERROR, 1);
		kfree_skb(skb);
		goto out;
	}
	__skb_pull(skb, off + sizeof(struct udphdr) - ESPINTCP_LEN_SIZE);
	*(__be16 *)skb->data = htons(skb->len);
	skb_dst_drop(skb);
	nf_reset_ct(skb);
	espintcp_tx_esp(esk, skb);
out:
	if (sk)
		sock_gen_put(sk);
	return NF_STOLEN;
}

static unsigned int espintcp_out4(void *priv, struct sk_buff *skb,
				  const struct nf_hook_state *state)
{
	const struct iphdr *iph = ip_hdr(skb);

	if (iph->protocol != IPPROTO_UDP || ip_is_fragment(iph) ||
	    !espintcp_net_has_states(state->net))
		return NF_ACCEPT;

	return espintcp_divert(state->net, skb,
			       (const xfrm_address_t *)&iph->daddr, AF_INET,
			       skb_network_offset(skb) + ip_hdrlen(skb));
}

static unsigned int espintcp_out6(void *priv, struct sk_buff *skb,
				  const struct nf_hook_state *state)
{
	const struct ipv6hdr *ip6h = ipv6_hdr(skb);
	u8 nexthdr = ip6h->nexthdr;
	__be16 frag_off;
	int off;

	if (!espintcp_net_has_states(state->net))
		return NF_ACCEPT;

	off = ipv6_skip_exthdr(skb, skb_network_offset(skb) + sizeof(*ip6h),
			       &nexthdr, &frag_off);
	if (off < 0 || nexthdr != IPPROTO_UDP || frag_off)
		return NF_ACCEPT;

	return espintcp_divert(state->net, skb,
			       (const xfrm_address_t *)&ip6h->daddr, AF_INET6,
			       off);
}

static const struct nf_hook_ops espintcp_nf_ops[] = {
	{
		.hook		= espintcp_out4,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP_PRI_FIRST,
	},
	{
		.hook		= espintcp_out6,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP6_PRI_FIRST,
	},
};

int espintcp_output_net_init(struct net *net)
{
	return nf_register_net_hooks(net, espintcp_nf_ops,
				     ARRAY_SIZE(espintcp_nf_ops));
}

void espintcp_output_net_exit(struct net *net)
{
	nf_unregister_net_hooks(net, espintcp_nf_ops,
				ARRAY_SIZE(espintcp_nf_ops));
}
