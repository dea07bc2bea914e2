// SPDX-License-Identifier: GPL-2.0
/*
 * The SPIs of a netns's TCP states, kept by the module itself.
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
 */
#include <linux/jhash.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <net/xfrm.h>

#include "espintcp.h"

struct espintcp_spi {
	struct hlist_node node;
	const struct xfrm_state *x;	/* identity only, never dereferenced */
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

static struct hlist_head *espintcp_spi_bucket(struct espintcp_net *en,
					      __be32 spi)
{
	return &en->spis[jhash_1word((__force u32)spi, 0) &
			 (ESPINTCP_SPI_BUCKETS - 1)];
}

/* @x becomes a TCP state: its SPI is guarded from now on */
int espintcp_spi_add(struct xfrm_state *x)
{
	struct espintcp_net *en = espintcp_net(xs_net(x));
	struct espintcp_spi *e;

	e = kzalloc(sizeof(*e), GFP_KERNEL_ACCOUNT);
	if (!e)
		return -ENOMEM;
	e->x = x;
	e->daddr = x->id.daddr;
	e->spi = x->id.spi;
	e->family = x->props.family;
	e->any_daddr = x->km.state == XFRM_STATE_VALID;

	spin_lock_bh(&en->spi_lock);
	hlist_add_head_rcu(&e->node, espintcp_spi_bucket(en, e->spi));
	spin_unlock_bh(&en->spi_lock);
	atomic_long_inc(&en->tcp_states);
	return 0;
}

/* @x, a TCP state, is destroyed (or its init_state failed) */
void espintcp_spi_del(struct xfrm_state *x)
{
	struct espintcp_net *en = espintcp_net(xs_net(x));
	struct espintcp_spi *e;

	spin_lock_bh(&en->spi_lock);
	hlist_for_each_entry(e, espintcp_spi_bucket(en, x->id.spi), node) {
		if (e->x == x) {
			hlist_del_rcu(&e->node);
			kfree_rcu(e, rcu);
			atomic_long_dec(&en->tcp_states);
			break;
		}
	}
	spin_unlock_bh(&en->spi_lock);
}

/*
 * Whether ESP with @spi to @daddr would be a TCP state's. Any mark: a
 * packet's own mark says nothing about which state made it. Under RCU.
 */
bool espintcp_spi_guarded(struct net *net, __be32 spi,
			  const xfrm_address_t *daddr, unsigned short family)
{
	struct espintcp_net *en = espintcp_net(net);
	struct espintcp_spi *e;

	hlist_for_each_entry_rcu(e, espintcp_spi_bucket(en, spi), node)
		if (e->spi == spi && e->family == family &&
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
	struct espintcp_net *en = espintcp_net(net);
	struct espintcp_spi *e;
	bool found = false;

	rcu_read_lock();
	hlist_for_each_entry_rcu(e, espintcp_spi_bucket(en, spi), node) {
		if (e->spi == spi) {
			found = true;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

bool espintcp_net_has_states(struct net *net)
{
	return atomic_long_read(&espintcp_net(net)->tcp_states) > 0;
}

void espintcp_spi_net_init(struct net *net)
{
	struct espintcp_net *en = espintcp_net(net);
	int i;

	spin_lock_init(&en->spi_lock);
	for (i = 0; i < ESPINTCP_SPI_BUCKETS; i++)
		INIT_HLIST_HEAD(&en->spis[i]);
}
