// SPDX-License-Identifier: GPL-2.0
/*
 * Test only. Holds one xfrm state past the end of its netns, as a bundle
 * or a packet may hold one, so that the guest can check what the state's
 * destructor does once the netns's memory is freed (tests/guest/noipv6.sh).
 *
 * /proc/xfrm_hold, root only. Written in the state's netns:
 *   "hold DADDR SPI"	a reference on that IPv4 ESP state (mark 0, SPI in hex)
 *   "put"		the reference dropped
 * Read: "none", or whether the held state is "live" or "dead"; then how
 * many netns have begun their exit since the module was loaded. The netns
 * cleanups run one after another (an ordered workqueue): once a netns
 * deleted after the held state's netns began its exit, the latter's
 * memory is freed.
 */
#include <linux/inet.h>
#include <linux/module.h>
#include <linux/nsproxy.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <net/xfrm.h>

static DEFINE_MUTEX(xfrm_hold_lock);
static struct xfrm_state *xfrm_held;
static atomic_t xfrm_hold_exits;

static void __net_exit xfrm_hold_net_exit(struct net *net)
{
	atomic_inc(&xfrm_hold_exits);
}

static struct pernet_operations xfrm_hold_net_ops = {
	.exit = xfrm_hold_net_exit,
};

static int xfrm_hold_take(const char *addr, u32 spi)
{
	xfrm_address_t daddr = {};
	struct xfrm_state *x;

	if (xfrm_held)
		return -EBUSY;
	if (!in4_pton(addr, -1, (u8 *)&daddr.a4, -1, NULL))
		return -EINVAL;
	x = xfrm_state_lookup(current->nsproxy->net_ns, 0, &daddr, htonl(spi),
			      IPPROTO_ESP, AF_INET);
	if (!x)
		return -ENOENT;
	xfrm_held = x;
	return 0;
}

static ssize_t xfrm_hold_write(struct file *file, const char __user *ubuf,
			       size_t len, loff_t *ppos)
{
	char buf[64], addr[INET_ADDRSTRLEN];
	u32 spi;
	int err;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';

	mutex_lock(&xfrm_hold_lock);
	if (sysfs_streq(buf, "put")) {
		err = xfrm_held ? 0 : -ENOENT;
		if (xfrm_held)
			xfrm_state_put(xfrm_held);
		xfrm_held = NULL;
	} else if (sscanf(buf, "hold %15s %x", addr, &spi) == 2) {
		err = xfrm_hold_take(addr, spi);
	} else {
		err = -EINVAL;
	}
	mutex_unlock(&xfrm_hold_lock);
	return err ? err : len;
}

static int xfrm_hold_show(struct seq_file *seq, void *v)
{
	mutex_lock(&xfrm_hold_lock);
	if (!xfrm_held)
		seq_puts(seq, "none");
	else if (READ_ONCE(xfrm_held->km.state) == XFRM_STATE_DEAD)
		seq_puts(seq, "dead");
	else
		seq_puts(seq, "live");
	mutex_unlock(&xfrm_hold_lock);
	seq_printf(seq, " %d\n", atomic_read(&xfrm_hold_exits));
	return 0;
}

static int xfrm_hold_open(struct inode *inode, struct file *file)
{
	return single_open(file, xfrm_hold_show, NULL);
}

static const struct proc_ops xfrm_hold_ops = {
	.proc_open	= xfrm_hold_open,
	.proc_read	= seq_read,
	.proc_lseek	= seq_lseek,
	.proc_release	= single_release,
	.proc_write	= xfrm_hold_write,
};

static int __init xfrm_hold_init(void)
{
	int err;

	err = register_pernet_subsys(&xfrm_hold_net_ops);
	if (err)
		return err;
	if (!proc_create("xfrm_hold", 0600, NULL, &xfrm_hold_ops)) {
		unregister_pernet_subsys(&xfrm_hold_net_ops);
		return -ENOMEM;
	}
	return 0;
}

static void __exit xfrm_hold_exit(void)
{
	remove_proc_entry("xfrm_hold", NULL);
	unregister_pernet_subsys(&xfrm_hold_net_ops);
	if (xfrm_held)
		xfrm_state_put(xfrm_held);
}

module_init(xfrm_hold_init);
module_exit(xfrm_hold_exit);
MODULE_DESCRIPTION("test only: holds an xfrm state past its netns");
MODULE_LICENSE("GPL");
