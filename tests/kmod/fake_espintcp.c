// SPDX-License-Identifier: GPL-2.0
/*
 * Test only. Registers a TCP ULP named "espintcp", as a kernel built with
 * CONFIG_INET_ESPINTCP=y does at boot, so that the guest can check that
 * espintcp.ko then refuses to load and says why in one dmesg line.
 */
#include <linux/module.h>
#include <net/tcp.h>

static int fake_espintcp_init_sk(struct sock *sk)
{
	return -EOPNOTSUPP;
}

static struct tcp_ulp_ops fake_espintcp_ulp = {
	.name	= "espintcp",
	.owner	= THIS_MODULE,
	.init	= fake_espintcp_init_sk,
};

static int __init fake_espintcp_init(void)
{
	return tcp_register_ulp(&fake_espintcp_ulp);
}

static void __exit fake_espintcp_exit(void)
{
	tcp_unregister_ulp(&fake_espintcp_ulp);
}

module_init(fake_espintcp_init);
module_exit(fake_espintcp_exit);
MODULE_DESCRIPTION("test only: an espintcp ULP, as if built into the kernel");
MODULE_LICENSE("GPL");
