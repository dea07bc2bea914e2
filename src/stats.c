// SPDX-License-Identifier: GPL-2.0
/*
 * Per-netns counters, one "name value" line each in /proc/net/espintcp,
 * and the per-netns setup that goes with them (/proc/net/espintcp_states,
 * the output hooks).
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "espintcp.h"

struct espintcp_net {
	atomic_long_t stats[ESPINTCP_NR_STATS];
};

static const char *const espintcp_stat_names[ESPINTCP_NR_STATS] = {
	[ESPINTCP_IKE_RX_MSGS]		 = "ike_rx_msgs",
	[ESPINTCP_IKE_RX_BYTES]		 = "ike_rx_bytes",
	[ESPINTCP_IKE_TX_MSGS]		 = "ike_tx_msgs",
	[ESPINTCP_IKE_TX_BYTES]		 = "ike_tx_bytes",
	[ESPINTCP_ESP_RX_MSGS]		 = "esp_rx_msgs",
	[ESPINTCP_ESP_RX_BYTES]		 = "esp_rx_bytes",
	[ESPINTCP_ESP_TX_MSGS]		 = "esp_tx_msgs",
	[ESPINTCP_ESP_TX_BYTES]		 = "esp_tx_bytes",
	[ESPINTCP_RX_KEEPALIVE]		 = "rx_keepalive",
	[ESPINTCP_RX_DROP_SHORT]	 = "rx_drop_short",
	[ESPINTCP_RX_PAUSED]		 = "rx_paused",
	[ESPINTCP_RX_DROP_NOMEM]	 = "rx_drop_nomem",
	[ESPINTCP_RX_DROP_NODEV]	 = "rx_drop_nodev",
	[ESPINTCP_RX_DROP_NOT_TCP_STATE] = "rx_drop_not_tcp_state",
	[ESPINTCP_RX_STREAM_ERRORS]	 = "rx_stream_errors",
	[ESPINTCP_TX_DROP_ERROR]	 = "tx_drop_error",
	[ESPINTCP_TX_DROP_NOSOCK]	 = "tx_drop_nosock",
	[ESPINTCP_TX_DROP_QUEUE_FULL]	 = "tx_drop_queue_full",
	[ESPINTCP_STATES]		 = "tcp_states",
};

static unsigned int espintcp_net_id __read_mostly;

void espintcp_net_stat_add(struct net *net, enum espintcp_stat stat, long n)
{
	struct espintcp_net *en = net_generic(net, espintcp_net_id);

	atomic_long_add(n, &en->stats[stat]);
}

void espintcp_stat_add(const struct sock *sk, enum espintcp_stat stat,
		       unsigned long n)
{
	espintcp_net_stat_add(sock_net(sk), stat, n);
}

long espintcp_net_stat(struct net *net, enum espintcp_stat stat)
{
	struct espintcp_net *en = net_generic(net, espintcp_net_id);

	return atomic_long_read(&en->stats[stat]);
}

static int espintcp_stats_show(struct seq_file *seq, void *v)
{
	struct espintcp_net *en = net_generic(seq_file_single_net(seq),
					      espintcp_net_id);
	int i;

	for (i = 0; i < ESPINTCP_NR_STATS; i++)
		seq_printf(seq, "%-24s %lu\n", espintcp_stat_names[i],
			   atomic_long_read(&en->stats[i]));
	return 0;
}

static int __net_init espintcp_net_init(struct net *net)
{
	int err;

	if (!proc_create_net_single("espintcp", 0444, net->proc_net,
				    espintcp_stats_show, NULL))
		return -ENOMEM;
	if (!proc_create_net_single("espintcp_states", 0444, net->proc_net,
				    espintcp_states_show, NULL)) {
		err = -ENOMEM;
		goto out_stats;
	}

	err = espintcp_output_net_init(net);
	if (!err)
		return 0;

	remove_proc_entry("espintcp_states", net->proc_net);
out_stats:
	remove_proc_entry("espintcp", net->proc_net);
	return err;
}

static void __net_exit espintcp_net_exit(struct net *net)
{
	espintcp_output_net_exit(net);
	remove_proc_entry("espintcp_states", net->proc_net);
	remove_proc_entry("espintcp", net->proc_net);
}

static struct pernet_operations espintcp_net_ops = {
	.init = espintcp_net_init,
	.exit = espintcp_net_exit,
	.id   = &espintcp_net_id,
	.size = sizeof(struct espintcp_net),
};

int espintcp_stats_init(void)
{
	return register_pernet_subsys(&espintcp_net_ops);
}

void espintcp_stats_exit(void)
{
	unregister_pernet_subsys(&espintcp_net_ops);
}
