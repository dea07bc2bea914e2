// SPDX-License-Identifier: GPL-2.0
/*
 * ESP output of TCP states into their TCP connections.
 *
 * esp4/esp6 build these packets as ESP-in-UDP (see xfrm.c). The frame for
 * the stream is the ESP packet behind a 2-byte length, which goes where the
 * UDP header's last two bytes were. The TCP connection is the one whose
 * addresses and ports are the state's addresses and encap ports; with none,
 * or one without the ULP, the packet is dropped and counted: it must not
 * leave as UDP.
 *
 * The state's type takes the packets its crypto finished at once. Packets
 * that asynchronous crypto finishes later go back to xfrm, which sends them
 * on through LOCAL_OUT: a hook there takes them before they can reach the
 * wire. It takes only what xfrm transformed, for a TCP state, from that
 * state's address and ports, and never what a socket sent as plain UDP.
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
	__be16 sport, dport;
	struct sock *sk;

	spin_lock_bh(&x->lock);
	sport = x->encap->encap_sport;
	dport = x->encap->encap_dport;
	spin_unlock_bh(&x->lock);

	if (x->props.family == AF_INET6)
		sk = espintcp_inet6_lookup_established(net, &x->id.daddr.in6,
						       dport,
						       &x->props.saddr.in6,
						       ntohs(sport));
	else
		sk = espintcp_inet_lookup_established(net, x->id.daddr.a4,
						      dport, x->props.saddr.a4,
						      ntohs(sport));
	if (sk && !sk_fullsock(sk)) {
		sock_gen_put(sk);
		sk = NULL;
	}
	return sk;
}

/*
 * @skb: ESP-in-UDP that xfrm made for TCP state @x, UDP header at @off.
 * Consumes it.
 */
void espintcp_output_divert(struct xfrm_state *x, struct sk_buff *skb,
			    unsigned int off)
{
	struct net *net = xs_net(x);
	struct espintcp_sock *esk;
	struct sock *sk;

	rcu_read_lock();
	sk = espintcp_state_sk(net, x);
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
	rcu_read_unlock();
}

/* @x's own packet: from its address, on its encap ports */
static bool espintcp_state_made(struct xfrm_state *x, const xfrm_address_t *saddr,
				const struct udphdr *uh)
{
	bool match;

	if (!xfrm_addr_equal(saddr, &x->props.saddr, x->props.family))
		return false;
	spin_lock_bh(&x->lock);
	match = uh->source == x->encap->encap_sport &&
		uh->dest == x->encap->encap_dport;
	spin_unlock_bh(&x->lock);
	return match;
}

/*
 * @skb: a UDP packet that xfrm transformed, UDP header at @off. The mark is
 * the state's own (xfrm.c), so that marked states are found too.
 */
static unsigned int espintcp_divert(struct net *net, struct sk_buff *skb,
				    const xfrm_address_t *saddr,
				    const xfrm_address_t *daddr,
				    unsigned short family, unsigned int off)
{
	struct {
		struct udphdr uh;
		__be32 spi;
	} _h;
	const typeof(_h) *h;
	struct xfrm_state *x;
	bool ours;

	h = skb_header_pointer(skb, off, sizeof(_h), &_h);
	if (!h || !h->spi)	/* IKE over UDP */
		return NF_ACCEPT;

	x = xfrm_state_lookup(net, skb->mark, daddr, h->spi, IPPROTO_ESP,
			      family);
	if (!x)
		return NF_ACCEPT;
	ours = espintcp_is_tcp_state(x) && espintcp_state_made(x, saddr, &h->uh);
	if (ours)
		espintcp_output_divert(x, skb, off);
	xfrm_state_put(x);
	return ours ? NF_STOLEN : NF_ACCEPT;
}

static unsigned int espintcp_out4(void *priv, struct sk_buff *skb,
				  const struct nf_hook_state *state)
{
	const struct iphdr *iph = ip_hdr(skb);

	if (!(IPCB(skb)->flags & IPSKB_XFRM_TRANSFORMED) ||
	    iph->protocol != IPPROTO_UDP || ip_is_fragment(iph) ||
	    !espintcp_net_has_states(state->net))
		return NF_ACCEPT;

	return espintcp_divert(state->net, skb,
			       (const xfrm_address_t *)&iph->saddr,
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

	if (!(IP6CB(skb)->flags & IP6SKB_XFRM_TRANSFORMED) ||
	    !espintcp_net_has_states(state->net))
		return NF_ACCEPT;

	off = ipv6_skip_exthdr(skb, skb_network_offset(skb) + sizeof(*ip6h),
			       &nexthdr, &frag_off);
	if (off < 0 || nexthdr != IPPROTO_UDP || frag_off)
		return NF_ACCEPT;

	return espintcp_divert(state->net, skb,
			       (const xfrm_address_t *)&ip6h->saddr,
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
