// SPDX-License-Identifier: GPL-2.0
/*
 * espintcp: RFC 8229 TCP encapsulation of IKE and ESP for kernels built
 * without CONFIG_INET_ESPINTCP, with the upstream userspace API.
 *
 * Module and per-netns setup. Userspace reaches the module through the
 * ESP type and the ULP as soon as they are registered, while init can
 * still fail. Both refuse TCP states and sockets until init is done, and a
 * failed init waits for whoever is still calling into the module before it
 * lets the kernel free it.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <net/net_namespace.h>
#include <net/tcp.h>

#include "espintcp.h"

static bool test_fail_init;
module_param(test_fail_init, bool, 0);
MODULE_PARM_DESC(test_fail_init,
		 "test only: fail init after everything is registered");

unsigned int espintcp_net_id __read_mostly;

/* counters, /proc/net/espintcp_states, the LOCAL_OUT hooks */
static int __net_init espintcp_net_init(struct net *net)
{
	int err;

	espintcp_spi_net_init(net);
	err = espintcp_stats_net_init(net);
	if (err)
		return err;
	err = espintcp_xfrm_net_init(net);
	if (err)
		goto out_stats;
	err = espintcp_output_net_init(net);
	if (err)
		goto out_xfrm;
	return 0;

out_xfrm:
	espintcp_xfrm_net_exit(net);
out_stats:
	espintcp_stats_net_exit(net);
	espintcp_stats_net_free(net);
	return err;
}

static void __net_exit espintcp_net_exit(struct net *net)
{
	espintcp_output_net_exit(net);
	espintcp_xfrm_net_exit(net);
	espintcp_stats_net_exit(net);
	espintcp_spi_net_exit(net);
}

/* the counters, once the data path cannot be bumping them any more */
static void __net_exit espintcp_net_exit_batch(struct list_head *net_list)
{
	struct net *net;

	synchronize_rcu();
	list_for_each_entry(net, net_list, exit_list)
		espintcp_stats_net_free(net);
}

static struct pernet_operations espintcp_net_ops = {
	.init = espintcp_net_init,
	.exit = espintcp_net_exit,
	.exit_batch = espintcp_net_exit_batch,
	.id   = &espintcp_net_id,
	.size = sizeof(struct espintcp_net),
};

/*
 * The callers that found the ESP type or the ULP before they went away
 * took a module reference, at the latest by the end of this grace period.
 * The loader holds one more until init returns.
 */
static void espintcp_wait_callers(void)
{
	synchronize_rcu();
	while (module_refcount(THIS_MODULE) > 1)
		msleep(20);
	/* the last puts may have been the work item's: let it return */
	espintcp_xfrm_flush_puts();
}

static int __init espintcp_init(void)
{
	int err;

	espintcp_output_init();
	espintcp_spi_init();
	err = register_pernet_subsys(&espintcp_net_ops);
	if (err)
		return err;

	err = espintcp_xfrm_init();
	if (err)
		goto out_net;

	err = espintcp_ulp_init();
	if (err == -EEXIST) {
		pr_err("this kernel already provides the espintcp ULP (CONFIG_INET_ESPINTCP); the module is not needed\n");
		/* modprobe would take EEXIST for "already loaded": success */
		err = -EBUSY;
	}
	if (err)
		goto out_xfrm;

	if (test_fail_init) {
		/*
		 * long enough for racing setsockopt and state adds to get in,
		 * on a debug kernel under TCG too
		 */
		msleep(2000);
		pr_info("failing init, as test_fail_init asks\n");
		err = -EIO;
		goto out_ulp;
	}

	espintcp_xfrm_start();
	espintcp_ulp_start();
	return 0;

out_ulp:
	espintcp_ulp_exit();
out_xfrm:
	espintcp_xfrm_exit();
	espintcp_wait_callers();
out_net:
	unregister_pernet_subsys(&espintcp_net_ops);
	return err;
}

static void __exit espintcp_exit(void)
{
	espintcp_ulp_exit();
	espintcp_xfrm_exit();
	unregister_pernet_subsys(&espintcp_net_ops);
}

module_init(espintcp_init);
module_exit(espintcp_exit);

MODULE_DESCRIPTION("RFC 8229 TCP encapsulation of IKE and ESP (espintcp ULP)");
MODULE_LICENSE("GPL");
MODULE_VERSION(ESPINTCP_VERSION);
MODULE_ALIAS_TCP_ULP("espintcp");
