// SPDX-License-Identifier: GPL-2.0
/*
 * espintcp: RFC 8229 TCP encapsulation of IKE and ESP for kernels built
 * without CONFIG_INET_ESPINTCP, with the upstream userspace API.
 */
#include <linux/module.h>
#include <net/tcp.h>

#include "espintcp.h"

static int __init espintcp_init(void)
{
	int err;

	err = espintcp_stats_init();
	if (err)
		return err;

	err = espintcp_ulp_init();
	if (err == -EEXIST) {
		pr_err("espintcp: this kernel already provides the espintcp ULP (CONFIG_INET_ESPINTCP); the module is not needed\n");
		/* modprobe would take EEXIST for "already loaded": success */
		err = -EBUSY;
	}
	if (err)
		goto out_stats;

	err = espintcp_xfrm_init();
	if (err)
		goto out_ulp;

	return 0;

out_ulp:
	espintcp_ulp_exit();
out_stats:
	espintcp_stats_exit();
	return err;
}

static void __exit espintcp_exit(void)
{
	espintcp_xfrm_exit();
	espintcp_ulp_exit();
	espintcp_stats_exit();
}

module_init(espintcp_init);
module_exit(espintcp_exit);

MODULE_DESCRIPTION("RFC 8229 TCP encapsulation of IKE and ESP (espintcp ULP)");
MODULE_LICENSE("GPL");
MODULE_VERSION(ESPINTCP_VERSION);
MODULE_ALIAS_TCP_ULP("espintcp");
