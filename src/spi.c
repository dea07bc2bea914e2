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
 * netns (the last reference, a bundle's, is dropped after a grace period),
 * so its destructor may run after the netns's memory is freed, and must
 * not touch it. An entry names its netns by address only, and forgets it
 * when the netns goes (espintcp_spi_net_exit()), before a new netns can
 * be given the same address.
 */
#include <linux/jhash.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <net/xfrm.h>

#include "espintcp.h"

#define ESPINTCP_SPI_BUCKETS	256

struct espintcp_spi {
	struct hlist_node node;
	const struct xfrm_state *x;	/* identity only, never dereferenced */
	const struct net *net;		/* likewise; NULL once it is gone */
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

static DEFINE_SPINLOCK(espintcp_spi_lock);	/* writers; readers use RCU */
static struct hlist_head espintcp_spis[ESPINTCP_SPI_BUCKETS];
static atomic_long_t espintcp_spi_count;

static struct hlist_head *espintcp_spi_bucket(__be32 spi)
{
	return &espintcp_spis[jhash_1word((__force u32)spi, 0) &
			      (ESPINTCP_SPI_BUCKETS - 1)];
}

/* @x becomes a TCP state: its SPI is guarded from now on */
int espintcp_spi_add(struct xfrm_state *x)
{
	struct espintcp_spi *e;

	e = kzalloc(sizeof(*e), GFP_KERNEL_ACCOUNT);
	if (!e)
		return -ENOMEM;
	e->x = x;
	e->net = xs_net(x);
	e->daddr = x->id.daddr;
	e->spi = x->id.spi;
	e->family = x->props.family;
	e->any_daddr = x->km.state == XFRM_STATE_VALID;

	spin_lock_bh(&espintcp_spi_lock);
	hlist_add_head_rcu(&e->node, espintcp_spi_bucket(e->spi));
	spin_unlock_bh(&espintcp_spi_lock);
	atomic_long_inc(&espintcp_spi_count);
	return 0;
}

/*
 * @x, a TCP state, is destroyed (or its init_state failed). Its netns may
 * be gone.
 */
void espintcp_spi_del(struct xfrm_state *x)
{
	struct espintcp_spi *e;

	spin_lock_bh(&espintcp_spi_lock);
	hlist_for_each_entry(e, espintcp_spi_bucket(x->id.spi), node) {
		if (e->x == x) {
			hlist_del_rcu(&e->node);
			kfree_rcu(e, rcu);
			atomic_long_dec(&espintcp_spi_count);
			break;
		}
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

	hlist_for_each_entry_rcu(e, espintcp_spi_bucket(spi), node)
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
	hlist_for_each_entry_rcu(e, espintcp_spi_bucket(spi), node) {
		if (e->spi == spi && READ_ONCE(e->net) == net) {
			found = true;
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

/* whether any netns has a TCP state: the egress guard's fast way out */
bool espintcp_spi_any(void)
{
	return atomic_long_read(&espintcp_spi_count) > 0;
}

/* the TCP states of @net, destroyed or not (/proc/net/espintcp) */
long espintcp_spi_count_net(const struct net *net)
{
	struct espintcp_spi *e;
	long n = 0;
	int i;

	rcu_read_lock();
	for (i = 0; i < ESPINTCP_SPI_BUCKETS; i++)
		hlist_for_each_entry_rcu(e, &espintcp_spis[i], node)
			n += READ_ONCE(e->net) == net;
	rcu_read_unlock();
	return n;
}

/* @net goes: its states' entries, destroyed or not, no longer name it */
void espintcp_spi_net_exit(const struct net *net)
{
	struct espintcp_spi *e;
	int i;

	spin_lock_bh(&espintcp_spi_lock);
	for (i = 0; i < ESPINTCP_SPI_BUCKETS; i++)
		hlist_for_each_entry(e, &espintcp_spis[i], node)
			if (e->net == net)
				WRITE_ONCE(e->net, NULL);
	spin_unlock_bh(&espintcp_spi_lock);
}
