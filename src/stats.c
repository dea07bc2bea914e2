// SPDX-License-Identifier: GPL-2.0
/*
 * Per-netns counters, one "name value" line each in /proc/net/espintcp.
 */
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>

#include "espintcp.h"

struct espintcp_mib {
	unsigned long v[ESPINTCP_NR_STATS];
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
	[ESPINTCP_RX_DROP_TOO_LONG]	 = "rx_drop_too_long",
	[ESPINTCP_RX_DROP_NOT_TCP_STATE] = "rx_drop_not_tcp_state",
	[ESPINTCP_RX_DROP_OTHER_PEER]	 = "rx_drop_other_peer",
	[ESPINTCP_RX_STREAM_ERRORS]	 = "rx_stream_errors",
	[ESPINTCP_TX_DROP_ERROR]	 = "tx_drop_error",
	[ESPINTCP_TX_DROP_NOSOCK]	 = "tx_drop_nosock",
	[ESPINTCP_TX_DROP_QUEUE_FULL]	 = "tx_drop_queue_full",
	[ESPINTCP_TX_DROP_GUARD]	 = "tx_drop_guard",
};

/*
 * From the data path, in softirq or under RCU; a netns's last TCP states
 * can still be passing packets after its counters are gone (main.c).
 */
void espintcp_net_stat_add(struct net *net, enum espintcp_stat stat,
			   unsigned long n)
{
	struct espintcp_mib __percpu *mib = READ_ONCE(espintcp_net(net)->mib);

	if (likely(mib))
		this_cpu_add(mib->v[stat], n);
}

void espintcp_stat_add(const struct sock *sk, enum espintcp_stat stat,
		       unsigned long n)
{
	espintcp_net_stat_add(sock_net(sk), stat, n);
}

static unsigned long espintcp_stat_sum(const struct espintcp_net *en,
				       enum espintcp_stat stat)
{
	unsigned long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu_ptr(en->mib, cpu)->v[stat];
	return sum;
}

static int espintcp_stats_show(struct seq_file *seq, void *v)
{
	struct espintcp_net *en = espintcp_net(seq_file_single_net(seq));
	int i;

	if (!espintcp_proc_may_read(seq))
		return -EACCES;
	for (i = 0; i < ESPINTCP_NR_STATS; i++)
		seq_printf(seq, "%-24s %lu\n", espintcp_stat_names[i],
			   espintcp_stat_sum(en, i));
	seq_printf(seq, "%-24s %ld\n", "tcp_states",
		   atomic_long_read(&en->tcp_states));
	return 0;
}

/*
 * Whether the opener of /proc/net/espintcp or espintcp_states may see
 * them: whoever may run "ip xfrm state" in the netns. The root of a netns
 * that a user namespace owns (a container's, or any user's own) is not
 * the file's owner (the namespace has no uid map yet when its files are
 * made), so the files are 0444 and this is their check, on the opener's
 * credentials.
 */
bool espintcp_proc_may_read(struct seq_file *seq)
{
	return file_ns_capable(seq->file, seq_file_single_net(seq)->user_ns,
			       CAP_NET_ADMIN);
}

int espintcp_stats_net_init(struct net *net)
{
	struct espintcp_net *en = espintcp_net(net);

	en->mib = alloc_percpu(struct espintcp_mib);
	if (!en->mib)
		return -ENOMEM;
	/* traffic volumes, and an oracle for guessed SPIs: netns root only */
	if (!proc_create_net_single("espintcp", 0444, net->proc_net,
				    espintcp_stats_show, NULL)) {
		free_percpu(en->mib);
		return -ENOMEM;
	}
	return 0;
}

/*
 * xfrm's pernet exit, which destroys the netns's last TCP states, runs
 * after this module's: the counters go out of the data path's reach here,
 * and are freed after a grace period (espintcp_stats_net_free()).
 */
void espintcp_stats_net_exit(struct net *net)
{
	struct espintcp_net *en = espintcp_net(net);

	remove_proc_entry("espintcp", net->proc_net);
	en->dead_mib = en->mib;
	WRITE_ONCE(en->mib, NULL);
}

void espintcp_stats_net_free(struct net *net)
{
	free_percpu(espintcp_net(net)->dead_mib);
}
