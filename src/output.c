// SPDX-License-Identifier: GPL-2.0
/*
 * ESP output of TCP states into their TCP connections, and the guard that
 * keeps any other way out shut.
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
 * wire. It knows them by a tag the type put on them before their crypto
 * started, which names their state: they go into that state's connection
 * or are dropped, whatever happened to the state meanwhile (deleted,
 * updated to other ports, migrated). Nothing is recognised by looking a
 * state up again, which can miss.
 *
 * The same hook drops every other UDP datagram and ESP packet that xfrm
 * transformed and that carries the SPI of a live TCP state to its
 * destination (spi.c): a state that xfrm turned into a UDP one behind the
 * module's back, a user's datagram that an IPComp or AH state passed on.
 * Silently, and what xfrm did not transform is not looked at: a user must
 * not learn from an error which SPIs are in use, nor a peer choose an SPI
 * that would stop other traffic to it.
 */
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/random.h>
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

/*
 * The tag: a secpath that names the state, which nothing on output sets.
 * It holds the state, and dies with the packet on any path that frees it.
 * Its offload slot is left unused (olen 0, so xfrm and esp4/esp6 see no
 * offload) and carries a seal instead: a secpath the packet got elsewhere,
 * on input, never has the seal.
 */
static u64 espintcp_tag_secret __read_mostly;

static u64 espintcp_tag_seal(const struct xfrm_state *x)
{
	return espintcp_tag_secret ^ (unsigned long)x;
}

int espintcp_output_tag(struct xfrm_state *x, struct sk_buff *skb)
{
	struct sec_path *sp;
	u64 seal;

	/* xfrm_output() starts without one: another transform put it there */
	if (skb_sec_path(skb)) {
		espintcp_net_stat_add(xs_net(x), ESPINTCP_TX_DROP_ERROR, 1);
		return -EINVAL;
	}
	sp = secpath_set(skb);
	if (!sp) {
		espintcp_net_stat_add(xs_net(x), ESPINTCP_TX_DROP_ERROR, 1);
		return -ENOMEM;
	}
	xfrm_state_hold(x);
	sp->xvec[0] = x;
	sp->len = 1;
	seal = espintcp_tag_seal(x);
	sp->ovec[0].seq.low = lower_32_bits(seal);
	sp->ovec[0].seq.hi = upper_32_bits(seal);
	return 0;
}

void espintcp_output_untag(struct sk_buff *skb)
{
	secpath_reset(skb);
}

/* the state @skb's tag names, held, and the tag gone; or NULL */
static struct xfrm_state *espintcp_tagged(struct sk_buff *skb)
{
	struct sec_path *sp = skb_sec_path(skb);
	struct xfrm_state *x;
	u64 seal;

	if (!sp || sp->len != 1 || sp->olen)
		return NULL;
	x = sp->xvec[0];
	seal = (u64)sp->ovec[0].seq.hi << 32 | sp->ovec[0].seq.low;
	if (seal != espintcp_tag_seal(x) || !espintcp_is_tcp_state(x))
		return NULL;
	xfrm_state_hold(x);
	secpath_reset(skb);
	return x;
}

void espintcp_output_init(void)
{
	espintcp_tag_secret = get_random_u64();
}

/*
 * @skb, tagged for @x, back from asynchronous crypto: ESP-in-UDP whose UDP
 * header is at @off, or at none of those (0) if another transform of a
 * bundle changed it since. Into @x's connection, or dropped.
 */
static unsigned int espintcp_divert_tagged(struct xfrm_state *x,
					   struct sk_buff *skb,
					   unsigned int off)
{
	__be32 _spi;
	const __be32 *spi = NULL;

	if (off && off == skb_transport_offset(skb))
		spi = skb_header_pointer(skb, off + sizeof(struct udphdr),
					 sizeof(_spi), &_spi);
	if (spi && *spi == x->id.spi) {
		espintcp_output_divert(x, skb, off);
	} else {
		espintcp_net_stat_add(xs_net(x), ESPINTCP_TX_DROP_ERROR, 1);
		kfree_skb(skb);
	}
	xfrm_state_put(x);
	return NF_STOLEN;
}

/*
 * The guard, for an untagged packet that xfrm transformed, with transport
 * protocol @proto at @off: UDP or ESP that carries a TCP state's SPI to
 * @daddr does not leave. A packet that xfrm is still to transform
 * (dst->xfrm) is looked at again once it has been.
 */
static unsigned int espintcp_guard(struct net *net, struct sk_buff *skb,
				   u8 proto, unsigned int off,
				   const xfrm_address_t *daddr,
				   unsigned short family)
{
	const struct dst_entry *dst = skb_dst(skb);
	__be32 _spi;
	const __be32 *spi;

	if (proto == IPPROTO_UDP)
		off += sizeof(struct udphdr);
	else if (proto != IPPROTO_ESP)
		return NF_ACCEPT;
	if (dst && dst->xfrm)
		return NF_ACCEPT;
	spi = skb_header_pointer(skb, off, sizeof(_spi), &_spi);
	/* a zero SPI is IKE's non-ESP marker */
	if (!spi || !*spi || !espintcp_spi_guarded(net, *spi, daddr, family))
		return NF_ACCEPT;
	espintcp_net_stat_add(net, ESPINTCP_TX_DROP_GUARD, 1);
	kfree_skb(skb);
	return NF_STOLEN;
}

static unsigned int espintcp_out4(void *priv, struct sk_buff *skb,
				  const struct nf_hook_state *state)
{
	const struct iphdr *iph = ip_hdr(skb);
	unsigned int off = skb_network_offset(skb) + ip_hdrlen(skb);
	struct xfrm_state *x = espintcp_tagged(skb);

	if (x)
		return espintcp_divert_tagged(x, skb,
					      iph->protocol == IPPROTO_UDP &&
					      !ip_is_fragment(iph) ? off : 0);
	/* what follows the first fragment has no header to look at */
	if (!(IPCB(skb)->flags & IPSKB_XFRM_TRANSFORMED) ||
	    !espintcp_net_tcp_states(state->net) ||
	    (iph->frag_off & htons(IP_OFFSET)))
		return NF_ACCEPT;
	return espintcp_guard(state->net, skb, iph->protocol, off,
			      (const xfrm_address_t *)&iph->daddr, AF_INET);
}

static unsigned int espintcp_out6(void *priv, struct sk_buff *skb,
				  const struct nf_hook_state *state)
{
	const struct ipv6hdr *ip6h = ipv6_hdr(skb);
	u8 nexthdr = ip6h->nexthdr;
	struct xfrm_state *x = espintcp_tagged(skb);
	__be16 frag_off;
	int off;

	if (!x && (!(IP6CB(skb)->flags & IP6SKB_XFRM_TRANSFORMED) ||
		   !espintcp_net_tcp_states(state->net)))
		return NF_ACCEPT;
	off = ipv6_skip_exthdr(skb, skb_network_offset(skb) + sizeof(*ip6h),
			       &nexthdr, &frag_off);
	if (x)
		return espintcp_divert_tagged(x, skb,
					      off > 0 && nexthdr == IPPROTO_UDP &&
					      !frag_off ? off : 0);
	if (off < 0 || (frag_off & htons(IP6_OFFSET)))
		return NF_ACCEPT;
	return espintcp_guard(state->net, skb, nexthdr, off,
			      (const xfrm_address_t *)&ip6h->daddr, AF_INET6);
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
