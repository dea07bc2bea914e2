// SPDX-License-Identifier: GPL-2.0
/*
 * The SPIs of the TCP states of every netns, kept by the module itself.
 *
 * xfrm takes a TCP state for an ESP-in-UDP state (xfrm.c), so whatever it
 * does on its own with one (MIGRATE, offload, a state added again under
 * traffic) it does as for ESP-in-UDP. Two questions must still be answered
 * without asking xfrm: is this datagram on its way out ESP of a live TCP
 * state (output.c's egress guard), and is the state MIGRATE is cloning a
 * TCP state (xfrm.c). An entry lives from the state's init_state to its
 * destructor, so a state that was deleted but not yet destroyed still
 * counts: its SPI stays guarded until the last packet that holds it is
 * gone.
 *
 * The table is the module's, not the netns's: a state can outlive its
 * netns (its last reference, a bundle's or a packet's, dropped after the
 * netns's exit), and its destructor must then find its entry without the
 * netns's memory, which is freed. An entry is hashed by the netns's
 * address and the SPI, with a seed of the module's, so that one netns's
 * states do not crowd another's buckets. It is also on a list of its
 * netns's, which counts them; it leaves that list when the netns goes
 * (espintcp_spi_net_exit()), and names no netns from then on, before a
 * new netns can be given the same address.
 */
#include <linux/jhash.h>
#include <linux/random.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <net/xfrm.h>

#include "espintcp.h"

#define ESPINTCP_SPI_BITS	10

struct espintcp_spi {
	struct hlist_node node;		/* in its bucket; read under RCU */
	struct hlist_node net_node;	/* in its netns's list, while @net */
	const struct xfrm_state *x;	/* identity only, never dereferenced */
	const struct net *net;		/* NULL once the netns is gone */
	xfrm_address_t daddr;
	__be32 spi;
	unsigned short family;
	/*
	 * A MIGRATE clone: some kernels (6.1) give it its new addresses only
	 * after init_state, so its SPI is guarded to any address.
	 */
	bool any_daddr;
	struct rcu_head rcu;
};

/* writers of the buckets, the netns lists and the entries' @net */
static DEFINE_SPINLOCK(espintcp_spi_lock);
static struct hlist_head espintcp_spis[1 << ESPINTCP_SPI_BITS];
static u32 espintcp_spi_seed __read_mostly;

/* @net: an address, never dereferenced (the netns may be gone) */
static struct hlist_head *espintcp_spi_bucket(const struct net *net,
					      __be32 spi)
{
	u32 h = jhash_2words((__force u32)spi, (u32)(unsigned long)net,
			     espintcp_spi_seed);

	return &espintcp_spis[h >> (32 - ESPINTCP_SPI_BITS)];
}

/* @x becomes a TCP state: its SPI is guarded from now on */
int espintcp_spi_add(struct xfrm_state *x)
{
	const struct net *net = xs_net(x);
	struct espintcp_net *en = espintcp_net(net);
	struct espintcp_spi *e;

	e = kzalloc(sizeof(*e), GFP_KERNEL_ACCOUNT);
	if (!e)
		return -ENOMEM;
	e->x = x;
	e->net = net;
	e->daddr = x->id.daddr;
	e->spi = x->id.spi;
	e->family = x->props.family;
	e->any_daddr = x->km.state == XFRM_STATE_VALID;

	spin_lock_bh(&espintcp_spi_lock);
	hlist_add_head_rcu(&e->node, espintcp_spi_bucket(net, e->spi));
	hlist_add_head(&e->net_node, &en->spis);
	atomic_long_inc(&en->tcp_states);
	spin_unlock_bh(&espintcp_spi_lock);
	return 0;
}

/*
 * @x, a TCP state, is destroyed (or its init_state failed). Its netns may
 * be gone: then its entry names none.
 */
void espintcp_spi_del(struct xfrm_state *x)
{
	struct espintcp_spi *e;

	spin_lock_bh(&espintcp_spi_lock);
	hlist_for_each_entry(e, espintcp_spi_bucket(xs_net(x), x->id.spi),
			     node) {
		if (e->x != x)
			continue;
		hlist_del_rcu(&e->node);
		if (e->net) {
			hlist_del(&e->net_node);
			atomic_long_dec(&espintcp_net(e->net)->tcp_states);
		}
		kfree_rcu(e, rcu);
		break;
	}
	spin_unlock_bh(&espintcp_spi_lock);
}

/*
 * Whether ESP with @spi to @daddr would be a TCP state's. Any mark: a
 * packet's own mark says nothing about which state made it. Under RCU.
 */
bool espintcp_spi_guarded(struct net *net, __be32 spi,
			  const xfrm_address_t *daddr, unsigned short family)
{
	struct espintcp_spi *e;

	hlist_for_each_entry_rcu(e, espintcp_spi_bucket(net, spi), node)
		if (e->spi == spi && READ_ONCE(e->net) == net &&
		    e->family == family &&
		    (e->any_daddr || xfrm_addr_equal(&e->daddr, daddr, family)))
			return true;
	return false;
}

/*
 * Whether a TCP state of @net has @spi: the SPI is all a MIGRATE clone
 * surely shares with its original, whose addresses, family, mark and
 * (Linux 7.x) reqid MIGRATE may change.
 */
bool espintcp_spi_is_tcp(struct net *net, __be32 spi)
{
	struct espintcp_spi *e;
	bool found = false;

	rcu_read_lock();
	hlist_for_each_entry_rcu(e, espintcp_spi_bucket(net, spi), node) {
		if (e->spi == spi && READ_ONCE(e->net) == net) {
			found = true;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

/* the TCP states of @net, destroyed or not */
long espintcp_net_tcp_states(const struct net *net)
{
	return atomic_long_read(&espintcp_net(net)->tcp_states);
}

void espintcp_spi_init(void)
{
	espintcp_spi_seed = get_random_u32();
}

void espintcp_spi_net_init(struct net *net)
{
	INIT_HLIST_HEAD(&espintcp_net(net)->spis);
}

/* @net goes: its states' entries, destroyed or not, no longer name it */
void espintcp_spi_net_exit(const struct net *net)
{
	struct espintcp_net *en = espintcp_net(net);
	struct hlist_node *tmp;
	struct espintcp_spi *e;

	spin_lock_bh(&espintcp_spi_lock);
	hlist_for_each_entry_safe(e, tmp, &en->spis, net_node) {
		hlist_del(&e->net_node);
		WRITE_ONCE(e->net, NULL);
	}
	atomic_long_set(&en->tcp_states, 0);
	spin_unlock_bh(&espintcp_spi_lock);
}
