#!/bin/sh
# make bench: IKE latency while ESP saturates a slow link.
#
# Both veth ends shaped to 10 Mbit/s (tbf, burst 32kbit, latency 100ms); a
# tunnel-mode ESP-over-TCP SA between cli and srv; iperf3 pushes TCP through
# the tunnel while, every 100 ms, an IKE request/response crosses the
# espintcp socket, a ping crosses the link outside the tunnel (the baseline:
# it queues in the same tbf) and a ping crosses the tunnel (what the flows
# inside see). The same run is made twice: with the module's ESP bounds
# (default) and with them lifted, which is how upstream behaves (ESP fills
# the socket's send queue ahead of IKE).
#
# A second table, unshaped link: IKE and outer ping round trips idle, and
# iperf3 through the same tunnel with ESP in TCP, ESP in UDP and plain
# ESP, and with ESP in TCP and in UDP again for 4 parallel streams (the
# drop filter for each lifted), taking turns for a few rounds:
# the median throughput of each, and the guest's kernel CPU time per MB,
# as ratios to plain ESP; and how many ESP frames each segment of the
# outer connection carried.
#
# A third, scale: many connections with an SA pair each (see below).
#
# Kernel command line knobs (BOOT_ARGS="..." make bench): bench_part= a
# comma-separated choice of shaped, thru and scale (all three), bench_rounds=N
# the second table's rounds (3), bench_profile=1 a perf profile of each
# encapsulation's last round, bench_conns=N the third's connections (1000),
# bench_encaps=A,B,... only these transfers of the second table (e.g.
# espintcp,espinudp over more rounds), bench_upstream=1 the
# reference kernel with upstream's espintcp built in
# (tests/qemu/run.sh boots it after the module's kernel): no module to load
# or tune, and the shaped table's one row is upstream's.
set -eu
. /tests/guest/lib/netns.sh
# bench_trace=1: every command, to find what stopped a run
case " $(cat /proc/cmdline) " in *" bench_trace=1 "*) set -x ;; esac

KEY=0x0102030405060708090a0b0c0d0e0f1011121314
SECS=${BENCH_SECS:-12}
COUNT=$((SECS * 10 - 20))

# "@ KEY VALUE..." lines are the figures: run.sh takes them out of the
# output and writes them to build/bench/results.json (tests/qemu/bench-report.sh)
fig() { echo "@ $*"; }
rtts() { # FILE: the round trips a ping or ike_pair printed, in ms
	sed -n 's/.* time=\([0-9.]*\) ms/\1/p; s/^ike_rtt_us \([0-9]*\)$/\1 us/p' "$1" |
		awk '{ printf "%s ", $2 == "us" ? $1 / 1000 : $1 }'
}

avg() { sed -n 's|.*min/avg/max = [0-9.]*/\([0-9.]*\)/.*|\1|p' "$1"; }
max() { sed -n 's|.*min/avg/max = [0-9.]*/[0-9.]*/\([0-9.]*\).*|\1|p' "$1"; }
us2ms() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1000 }'; }

tunnel() { # CPORT SPORT [ENCAP: espintcp (default), espinudp, none]
	e1="encap ${3:-espintcp} $1 $2 0.0.0.0" e2="encap ${3:-espintcp} $2 $1 0.0.0.0"
	[ "${3:-}" = none ] && e1='' e2=''
	for ns in cli srv; do
		ip -n "$ns" xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp \
			spi 0x501 reqid 5 mode tunnel replay-window 32 aead 'rfc4106(gcm(aes))' $KEY 128 \
			$e1
		ip -n "$ns" xfrm state add src 10.0.1.2 dst 10.0.1.1 proto esp \
			spi 0x502 reqid 5 mode tunnel replay-window 32 aead 'rfc4106(gcm(aes))' $KEY 128 \
			$e2
	done
	cli ip xfrm policy add src 10.9.1.1 dst 10.9.2.1 dir out \
		tmpl src 10.0.1.1 dst 10.0.1.2 proto esp reqid 5 mode tunnel
	cli ip xfrm policy add src 10.9.2.1 dst 10.9.1.1 dir in \
		tmpl src 10.0.1.2 dst 10.0.1.1 proto esp reqid 5 mode tunnel
	srv ip xfrm policy add src 10.9.2.1 dst 10.9.1.1 dir out \
		tmpl src 10.0.1.2 dst 10.0.1.1 proto esp reqid 5 mode tunnel
	srv ip xfrm policy add src 10.9.1.1 dst 10.9.2.1 dir in \
		tmpl src 10.0.1.1 dst 10.0.1.2 proto esp reqid 5 mode tunnel
}

# A NIC keeps each flow in order: its packets leave through one queue and
# arrive through the queue their hash picks. A veth queues each packet on
# the backlog of the CPU that sent it, so a flow sent from both CPUs comes
# out of order, and the outer connection is such a flow: ESP enters it on
# whichever CPU encrypted it. So the veths steer what they receive (RPS):
# each end to a CPU of its own, the client's to CPU 0 and the server's to
# CPU 1, as two hosts whose one tunnel flow arrives on one queue each.
#
# Not over every CPU by hash: a veth keeps the hash the sender's socket
# gave the packet, and xfrm keeps the inner packet's through encryption,
# so ESP in UDP and plain ESP would be spread by the inner flow, and 4
# inner streams decrypted on two CPUs at once, where a NIC hashes the one
# outer address and port pair of the SA to one queue. ESP in TCP, one
# outer connection, could not be spread. bench_rps=all does that, to
# compare.
BENCH_RPS=$(sed -n 's/.* bench_rps=\([a-z]*\).*/\1/p' /proc/cmdline)
bench_topo_up() {
	topo_up
	for ns in cli srv; do
		if [ "$BENCH_RPS" = all ]; then
			mask=$(printf '%x' $(((1 << $(nproc)) - 1)))
		elif [ "$ns" = cli ] || [ "$(nproc)" = 1 ]; then
			mask=1
		else
			mask=2
		fi
		ip netns exec "$ns" sh -c \
			"echo $mask > /sys/class/net/veth0/queues/rx-0/rps_cpus"
	done
}

# one_run NAME KEY CPORT SPORT: prints a table row, and its figures under
# shaped.KEY
one_run() {
	key=$2 name=$1
	shift 2
	set -- "$name" "$@"
	bench_topo_up
	topo_shape 10mbit
	cli ip addr add 10.9.1.1/32 dev lo
	srv ip addr add 10.9.2.1/32 dev lo
	cli ip route add 10.9.2.1/32 via 10.0.1.2 src 10.9.1.1
	srv ip route add 10.9.1.1/32 via 10.0.1.1 src 10.9.2.1

	# every piece is bounded in time: a broken tunnel must not hang the run
	srv timeout $((SECS + 20)) iperf3 -s -1 -B 10.9.2.1 >/dev/null 2>&1 &
	# the connection carries the IKE pings and the tunnel: it is held
	# until the transfer is over, not just until the last IKE ping
	rm -f /tmp/bench.in
	mkfifo /tmp/bench.in
	/tests/bin/ike_pair 4 "$2" "$3" ike 100 "$COUNT" < /tmp/bench.in \
		> /tmp/ike.out 2>&1 &
	exec 4> /tmp/bench.in
	sleep 1
	tunnel "$2" "$3"
	cli timeout $((SECS + 15)) iperf3 -c 10.9.2.1 -B 10.9.1.1 -t "$SECS" -f m \
		> /tmp/iperf.out 2>&1 &
	bulk=$!
	sleep 1
	cli ping -c "$COUNT" -i 0.1 10.0.1.2 > /tmp/outer.out 2>&1 &
	outer=$!
	cli ping -c "$COUNT" -i 0.1 -I 10.9.1.1 10.9.2.1 > /tmp/inner.out 2>&1 &
	wait "$bulk" "$outer" $!
	exec 4>&-
	wait
	[ -n "${BENCH_DEBUG:-}" ] && tail -n 5 /tmp/ike.out /tmp/iperf.out /tmp/outer.out /tmp/inner.out &&
		srv grep -E "SeqError|InError|NoStates" /proc/net/xfrm_stat
	rate=$(sed -n 's/.* \([0-9.]*\) Mbits\/sec.*receiver.*/\1/p' /tmp/iperf.out)
	ike_avg=$(sed -n 's/^ike_rtt_avg_us //p' /tmp/ike.out)
	ike_max=$(sed -n 's/^ike_rtt_max_us //p' /tmp/ike.out)
	ping_avg=$(avg /tmp/outer.out) ping_max=$(max /tmp/outer.out)
	in_avg=$(avg /tmp/inner.out) in_max=$(max /tmp/inner.out)
	# a figure the run did not give is "?", never 0
	if [ -n "$ike_avg" ]; then
		ike_avg=$(us2ms "$ike_avg") ike_max=$(us2ms "$ike_max")
		ike_ping=$(awk -v a="$ike_avg" -v b="$ping_avg" 'BEGIN { printf "%.1f", a - b }')
	else
		ike_avg='?' ike_max='?' ike_ping='?'
		echo "# $1: IKE gave $(grep -c '^ike_rtt_us' /tmp/ike.out) of $COUNT round trips, then: $(tail -n 1 /tmp/ike.out)"
	fi
	[ -n "$rate" ] || echo "# $1: iperf3 gave no receiver rate: $(tail -n 1 /tmp/iperf.out)"
	fig "shaped.$key.ike_avg_ms" "$ike_avg"
	fig "shaped.$key.ike_max_ms" "$ike_max"
	fig "shaped.$key.ping_avg_ms" "$ping_avg"
	fig "shaped.$key.ping_max_ms" "$ping_max"
	fig "shaped.$key.inner_ping_avg_ms" "$in_avg"
	fig "shaped.$key.inner_ping_max_ms" "$in_max"
	fig "shaped.$key.mbit_s" "${rate:-?}"
	fig "shaped.$key.ike_minus_ping_ms" "$ike_ping"
	fig "shaped.$key.ike_answered" "$(grep -c '^ike_rtt_us' /tmp/ike.out)" "$COUNT"
	fig "shaped.$key.ike_rtt_ms" "$(rtts /tmp/ike.out)"
	fig "shaped.$key.ping_rtt_ms" "$(rtts /tmp/outer.out)"
	printf '%-22s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n' "$1" \
		"$ike_avg" "$ike_max" "$ping_avg" "$ping_max" "$in_avg" "$in_max" \
		"${rate:-?}" \
		"$(ip netns exec cli awk '$1 == "tx_drop_queue_full" { print $2 }' /proc/net/espintcp 2>/dev/null)" \
		"$ike_ping"
	cli ip xfrm policy flush; cli ip xfrm state flush
	srv ip xfrm policy flush; srv ip xfrm state flush
	topo_down
}

UPSTREAM=
case " $(cat /proc/cmdline) " in *" bench_upstream=1 "*) UPSTREAM=1 ;; esac
if [ -z "$UPSTREAM" ]; then
	modprobe xfrm_user	# before any socket policy, as with an IKE daemon
	modprobe espintcp
fi
# bench_part=shaped,thru,scale (the default: all three) on the kernel
# command line chooses the tables
PARTS=$(sed -n 's/.* bench_part=\([^ ]*\).*/\1/p' /proc/cmdline)
PARTS=${PARTS:-shaped,thru,scale}
part() { case ",$PARTS," in *",$1,"*) return 0 ;; esac; return 1; }

if part shaped; then
echo "# IKE round trip vs. outer ping during a bulk transfer through the tunnel,"
echo "# 10 Mbit/s tbf on both veth ends, ${SECS}s, one sample per 100 ms (ms);"
echo "# in_*: ping inside the tunnel; mbit/s: iperf3 receiver; ike-ping: the difference of averages"
printf '%-22s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n' "# configuration" \
	ike_avg ike_max ping_avg ping_max in_avg in_max mbit/s esp_drop ike-ping
if [ -n "$UPSTREAM" ]; then
	one_run "upstream (in-kernel)" upstream 40001 4501
else
	one_run "bounded (default)" bounded 40001 4501
	sleep 2
	echo 0 > /sys/module/espintcp/parameters/esp_notsent_bytes
	one_run "unbounded (as upstream)" unbounded 40002 4502
	echo 4096 > /sys/module/espintcp/parameters/esp_notsent_bytes
fi
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "?" }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
# paired A B COLUMN: for files of one line per round, A's figure over B's,
# one ratio per round. Transfers that take turns ran seconds apart, so a
# drift of the host's speed over the run (which under TCG moves a whole
# round) cancels out of their ratio, not out of a ratio of two medians.
paired() {
	[ -s "$1" ] && [ -s "$2" ] || return 0
	cut -d' ' -f"$3" "$1" > /tmp/paired.a
	cut -d' ' -f"$3" "$2" | paste -d' ' /tmp/paired.a - |
		while read -r a b; do ratio "$a" "$b"; echo; done
}
# paired_median A B COLUMN: the median of those ratios, ? if there is none
paired_median() {
	paired "$@" | grep -E '^[0-9.]+$' > /tmp/paired.n || true
	if [ -s /tmp/paired.n ]; then median < /tmp/paired.n; else echo '?'; fi
}

# --- unshaped: idle round trips, and throughput by encapsulation ----------
# bench_rounds=N: how many times the transfers that are compared take turns
ROUNDS=$(sed -n 's/.* bench_rounds=\([0-9]*\).*/\1/p' /proc/cmdline)
ROUNDS=${ROUNDS:-3}
THRU_SECS=${BENCH_THRU_SECS:-8}

# guest CPU time in the kernel (system, irq, softirq), all CPUs, in ms
cpu_ms() {
	awk '$1 == "cpu" { print ($4 + $7 + $8) * 10; exit }' /proc/stat
}

# each CPU's line of /proc/stat: name, busy and total jiffies
cpu_lines() {
	awk '$1 ~ /^cpu[0-9]+$/ { t = 0; for (i = 2; i <= NF; i++) t += $i
		print $1, t - $5 - $6, t }' /proc/stat
}

# busy FILE_BEFORE FILE_AFTER: the busiest CPU's busy %, then the mean's
busy() {
	awk 'NR == FNR { b[$1] = $2; t[$1] = $3; next }
		{ d = $3 - t[$1]; p = d > 0 ? 100 * ($2 - b[$1]) / d : 0
		  if (p > m) m = p; s += p; n++ }
		END { printf "%.0f %.0f\n", m, n ? s / n : 0 }' "$1" "$2"
}

# bench_profile=1 on the kernel command line: a perf profile of each run
PROFILE=
case " $(cat /proc/cmdline) " in
*" bench_profile=1 "*) command -v perf > /dev/null && PROFILE=1 ;;
esac

# transfer NAME [STREAMS]: iperf3 through the tunnel for THRU_SECS, with
# STREAMS parallel streams (1), its Mbit/s in $rate and the kernel CPU ms
# per MB moved in $cost, the busiest CPU's busy % and the mean over CPUs
# in $busiest and $busy_mean (perf.NAME: profile)
transfer() {
	srv timeout $((THRU_SECS + 20)) iperf3 -s -1 -B 10.9.2.1 >/dev/null 2>&1 &
	iperf_srv=$! perf_pid=
	sleep 0.5
	if [ -n "$PROFILE" ]; then
		(sleep 1; perf record -a -o "/tmp/perf.$1" -- sleep $((THRU_SECS - 3)) \
			> /dev/null 2>&1) &
		perf_pid=$!
	fi
	t0=$(cpu_ms)
	cpu_lines > /tmp/cpus.0
	cli timeout $((THRU_SECS + 15)) iperf3 -c 10.9.2.1 -B 10.9.1.1 -t "$THRU_SECS" \
		-P "${2:-1}" -f m > /tmp/iperf.out 2>&1 || true
	t1=$(cpu_ms)
	cpu_lines > /tmp/cpus.1
	busy /tmp/cpus.0 /tmp/cpus.1 > /tmp/cpus.busy
	read -r busiest busy_mean < /tmp/cpus.busy
	wait "$iperf_srv" $perf_pid
	# the last receiver line: the only one, or the streams' [SUM]
	rate=$(sed -n 's/.* \([0-9.]*\) Mbits\/sec.*receiver.*/\1/p' /tmp/iperf.out | tail -n 1)
	rate=${rate:-0}
	# kernel CPU per MB: the transfer's MBytes, as the receiver counted them
	mb=$(sed -n 's/.* \([0-9.]*\) MBytes .*receiver.*/\1/p' /tmp/iperf.out | tail -n 1)
	cost=$(awk -v t="$((t1 - t0))" -v m="${mb:-0}" \
		'BEGIN { if (m > 0) printf "%.1f", t / m; else print "?" }')
}

# thru ENCAP[_x4] CPORT SPORT: iperf3 Mbit/s through the tunnel in $rate,
# and kernel CPU ms per MB moved in $cost; _x4: with 4 parallel streams
thru() {
	name=$1 streams=1
	case $1 in *_x4) streams=4 ;; esac
	shift
	set -- "${name%_x4}" "$@"
	bench_topo_up
	cli ip addr add 10.9.1.1/32 dev lo
	srv ip addr add 10.9.2.1/32 dev lo
	cli ip route add 10.9.2.1/32 via 10.0.1.2 src 10.9.1.1
	srv ip route add 10.9.1.1/32 via 10.0.1.1 src 10.9.2.1
	rm -f /tmp/bench.in
	mkfifo /tmp/bench.in
	case $1 in
	espintcp)
		/tests/bin/ike_pair 4 "$2" "$3" ike 50 20 < /tmp/bench.in \
			> /tmp/ike.out 2>&1 & ;;
	espinudp|espinudp_guarded)
		for ns in cli srv; do
			for d in ingress egress; do topo_undrop "$ns" "$d" 1; done
		done
		# a TCP state in each namespace (no connection needed): the
		# module's egress guard then looks at every ESP-in-UDP packet
		[ "$1" = espinudp ] || for ns in cli srv; do
			ip -n "$ns" xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp \
				spi 0x5ff reqid 6 mode tunnel aead 'rfc4106(gcm(aes))' $KEY 128 \
				encap espintcp 40099 4599 0.0.0.0
		done
		/tests/bin/udp_encap_sock cli 10.0.1.1 "$2" < /tmp/bench.in > /dev/null 2>&1 &
		/tests/bin/udp_encap_sock srv 10.0.1.2 "$3" < /tmp/bench.in > /dev/null 2>&1 & ;;
	none)
		for ns in cli srv; do
			for d in ingress egress; do topo_undrop "$ns" "$d" 2; done
		done
		# nothing to hold open: a reader, so that the fifo opens
		cat /tmp/bench.in > /dev/null & ;;
	esac
	exec 4> /tmp/bench.in
	sleep 1
	if [ "$1" = espintcp ]; then
		# idle: the IKE pings run first, then the outer pings
		for _i in $(seq 100); do
			grep -q ike_rtt_max_us /tmp/ike.out && break
			sleep 0.1
		done
		cli ping -c 20 -i 0.05 10.0.1.2 > /tmp/outer.out 2>&1
	fi
	tunnel "$2" "$3" "${1%_guarded}"
	transfer "$name" "$streams"
	if [ "$1" = espintcp ]; then
		# how many ESP frames each of the outer connection's segments
		# carried, and what reordering it saw (the first round's)
		cli ss -tniH state established src "10.0.1.1:$2" > /tmp/ss.out
		# (upstream has no such counter)
		frames=$(cli awk '$1 == "esp_tx_msgs" { print $2 }' /proc/net/espintcp 2>/dev/null || true)
		segs=$(sed -n 's/.* data_segs_out:\([0-9]*\).*/\1/p' /tmp/ss.out)
		segs_in=$(sed -n 's/.* segs_in:\([0-9]*\).*/\1/p' /tmp/ss.out)
		dsacks=$(sed -n 's/.* dsack_dups:\([0-9]*\).*/\1/p' /tmp/ss.out)
		drops=$(cli awk '$1 == "tx_drop_queue_full" { print $2 }' /proc/net/espintcp 2>/dev/null || true)
		if [ "$r" = 1 ]; then
			fig "outer.$name.esp_frames_per_segment" "$(ratio "$frames" "$segs")"
			echo "# outer connection, $name, first round: ${frames:-?} ESP frames out" \
				"(${drops:-?} dropped, queue full) in $segs data segments," \
				"$segs_in segments in, ${dsacks:-0} DSACKs"
			# what held the sender back, in TCP's own words
			# (ss shows the *_limited times only when not 0)
			echo "# outer connection, $name, first round, ss:$(grep -oE \
				' (rtt|cwnd|busy|rwnd_limited|sndbuf_limited|unacked|notsent):[^ ]*| pacing_rate [^ ]*' \
				/tmp/ss.out | tr -d '\n')"
		fi
	fi
	exec 4>&-
	wait
	cli ip xfrm policy flush; cli ip xfrm state flush
	srv ip xfrm policy flush; srv ip xfrm state flush
	topo_down
}

if part thru; then
# Under TCG one transfer varies by 20% or more from the next: the
# encapsulations take turns, ROUNDS times, and each gets its median.
# espinudp_guarded: ESP in UDP with a TCP state in the namespaces, which
# puts the module's egress guard (output.c) on its path: its cost
ALL_ENCAPS="espintcp espinudp none espintcp_x4 espinudp_x4 espinudp_guarded"
# bench_encaps=A,B,...: only these (an A/B of two, say, over more rounds)
ENCAPS=$(sed -n 's/.* bench_encaps=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ')
ENCAPS=${ENCAPS:-$ALL_ENCAPS}
rm -f /tmp/thru.*
ike_idle_avg='?' ike_idle_max='?' ping_idle_avg='?' ping_idle_max='?'
for r in $(seq "$ROUNDS"); do
	for e in $ENCAPS; do
		case $e in
		espintcp) thru espintcp 40011 4511 ;;
		espinudp) thru espinudp 4512 4513 ;;
		none) thru none 0 0 ;;
		espintcp_x4) thru espintcp_x4 40014 4514 ;;
		espinudp_x4) thru espinudp_x4 4515 4516 ;;
		espinudp_guarded) thru espinudp_guarded 4517 4518 ;;
		*) echo "# bench_encaps: no transfer $e (one of: $ALL_ENCAPS)"; exit 1 ;;
		esac
		echo "${rate:-0} $cost $busiest $busy_mean" >> "/tmp/thru.$e"
		if [ "$r" = 1 ] && [ "$e" = espintcp ]; then
			ike_idle_avg=$(us2ms "$(sed -n 's/^ike_rtt_avg_us //p' /tmp/ike.out)")
			ike_idle_max=$(us2ms "$(sed -n 's/^ike_rtt_max_us //p' /tmp/ike.out)")
			ping_idle_avg=$(avg /tmp/outer.out) ping_idle_max=$(max /tmp/outer.out)
		fi
	done
done
for e in $ALL_ENCAPS; do
	eval "r_$e=? c_$e=? all_$e= b_$e=? m_$e=?"
done
for e in $ENCAPS; do
	eval "r_$e=\$(cut -d' ' -f1 /tmp/thru.$e | median)"
	eval "c_$e=\$(cut -d' ' -f2 /tmp/thru.$e | median)"
	eval "all_$e=\"\$(cut -d' ' -f1 /tmp/thru.$e | tr '\n' ' ')\""
	eval "b_$e=\$(cut -d' ' -f3 /tmp/thru.$e | median)"
	eval "m_$e=\$(cut -d' ' -f4 /tmp/thru.$e | median)"
done
# shellcheck disable=SC2154 # r, c and all: set by the eval
row() { # LABEL ENCAP
	case " $ENCAPS " in *" $2 "*) ;; *) return 0 ;; esac
	eval "r=\$r_$2 c=\$c_$2 all=\$all_$2 b=\$b_$2 m=\$m_$2"
	fig "thru.$2.mbit_s" "$r"
	fig "thru.$2.cpu_ms_per_mb" "$c"
	fig "thru.$2.rounds_mbit_s" "$all"
	fig "thru.$2.busiest_cpu_pct" "$b"
	fig "thru.$2.mean_cpu_pct" "$m"
	printf '%-22s %8s %12s %12s %12s %8s %6s   %s\n' "$1" "$r" "$(ratio "$r" "$r_none")" \
		"$c" "$(ratio "$c" "$c_none")" "$b" "$m" "$all"
}
echo "#"
echo "# idle, unshaped (ms, avg / max of 20): IKE round trip $ike_idle_avg / $ike_idle_max;" \
	"outer ping $ping_idle_avg / $ping_idle_max"
echo "# iperf3 through the tunnel, unshaped veth, ${THRU_SECS}s each, medians of $ROUNDS rounds, same guest run;"
echo "# cpu_ms/MB: guest kernel CPU time (system + irq + softirq) per MB the receiver got"
echo "# busiest, mean: the busiest CPU's busy % (user, kernel and interrupts) during the transfer, and the mean over CPUs"
printf '%-22s %8s %12s %12s %12s %8s %6s   %s\n' "# encapsulation" mbit/s vs_plain_esp cpu_ms/MB vs_plain_esp busiest mean "each round (mbit/s)"
row "espintcp (TCP)" espintcp
row "espinudp (UDP)" espinudp
row "none (plain ESP)" none
row "espintcp, 4 streams" espintcp_x4
row "espinudp, 4 streams" espinudp_x4
row "espinudp, guard on" espinudp_guarded
# ESP in TCP against ESP in UDP, round by round (paired)
for k in "" _x4; do
	a=/tmp/thru.espintcp$k b=/tmp/thru.espinudp$k
	by_rate=$(paired "$a" "$b" 1 | tr '\n' ' ')
	by_cost=$(paired "$a" "$b" 2 | tr '\n' ' ')
	fig "ratio.espintcp_espinudp$k.mbit_s" "$(paired_median "$a" "$b" 1)"
	fig "ratio.espintcp_espinudp$k.rounds_mbit_s" "$by_rate"
	fig "ratio.espintcp_espinudp$k.cpu_ms_per_mb" "$(paired_median "$a" "$b" 2)"
	fig "ratio.espintcp_espinudp$k.rounds_cpu_ms_per_mb" "$by_cost"
	[ -z "$by_rate" ] ||
		echo "# espintcp$k / espinudp$k by round: throughput $by_rate, kernel CPU per MB $by_cost"
done
# the guard's cost: ESP in UDP with it against without, round by round
a=/tmp/thru.espinudp_guarded b=/tmp/thru.espinudp
by_rate=$(paired "$a" "$b" 1 | tr '\n' ' ')
by_cost=$(paired "$a" "$b" 2 | tr '\n' ' ')
fig "ratio.espinudp_guarded_espinudp.mbit_s" "$(paired_median "$a" "$b" 1)"
fig "ratio.espinudp_guarded_espinudp.rounds_mbit_s" "$by_rate"
fig "ratio.espinudp_guarded_espinudp.cpu_ms_per_mb" "$(paired_median "$a" "$b" 2)"
fig "ratio.espinudp_guarded_espinudp.rounds_cpu_ms_per_mb" "$by_cost"
[ -z "$by_rate" ] ||
	echo "# espinudp with the guard on / without, by round: throughput $by_rate, kernel CPU per MB $by_cost"
fig idle.ike_rtt_avg_ms "$ike_idle_avg"
fig idle.ike_rtt_max_ms "$ike_idle_max"
fig idle.ping_avg_ms "$ping_idle_avg"
fig idle.ping_max_ms "$ping_idle_max"
fig thru.seconds "$THRU_SECS"
fig thru.rounds "$ROUNDS"
fig shaped.seconds "$SECS"
if [ -n "$PROFILE" ]; then
	for e in $ENCAPS; do
		echo "# perf: kernel symbols over 0.4% of samples, $e, last round"
		perf report -i "/tmp/perf.$e" --stdio --no-children --sort sym \
			--percent-limit 0.4 2>/dev/null | grep -E '^ +[0-9]' | head -n 60 | sed 's/^/#   /'
	done
fi
fi

# --- scale: many connections on one server, each with its own SA pair -----
#
# CONNS connections from cli ports 20000.. to srv's 4600: their slab memory
# as plain TCP and with the ULP, then with an SA pair each (transport mode,
# the two directions, in both namespaces: what an IKE daemon would install
# at each end), the time to set it all up and tear it down, and the
# throughput of one tunnel on connection 0 with the others' states present
# and without them. Then a random half of them carry ESP (a policy each,
# and 10 datagrams): what an active connection costs over an idle one.
# Before all that, the memory of a quarter, a half and three quarters of
# CONNS, for the curve of memory against connections. After the teardown
# the module must unload (every ULP socket and TCP state holds a reference
# on it), and slab memory should be back near where it started.

# slab memory in use: caches dropped, and empty slabs given back, so that
# what one step freed is not counted again in the next
slab_kb() {
	echo 3 > /proc/sys/vm/drop_caches
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 > "$f" 2> /dev/null || true
	done
	awk '$1 == "Slab:" { print $2 }' /proc/meminfo
}
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# many CONNS [plain]: CONNS connections held by ike_pair on fd 5
many_up() {
	rm -f /tmp/many.in
	mkfifo /tmp/many.in
	if [ "${2:-}" = plain ]; then
		PEER_PLAIN=1 /tests/bin/ike_pair 4 20000 4600 many "$1" \
			< /tmp/many.in > /tmp/many.out 2>&1 &
	else
		/tests/bin/ike_pair 4 20000 4600 many "$1" \
			< /tmp/many.in > /tmp/many.out 2>&1 &
	fi
	many_pid=$!
	exec 5> /tmp/many.in
	for _i in $(seq 3000); do
		grep -q '^ready' /tmp/many.out && return 0
		kill -0 "$many_pid" 2> /dev/null || break
		sleep 0.1
	done
	echo "# scale: the connections did not come up: $(cat /tmp/many.out)"
	return 1
}
many_down() {
	exec 5>&-
	wait "$many_pid"
}

# sa_batch CONNS: ip -batch lines for an SA pair on each connection
sa_batch() {
	i=0
	while [ "$i" -lt "$1" ]; do
		echo "xfrm state add src 10.0.1.1 dst 10.0.1.2 proto esp spi $((0x100000 + i))" \
			"reqid $((1000 + i)) mode transport aead rfc4106(gcm(aes)) $KEY 128" \
			"encap espintcp $((20000 + i)) 4600 0.0.0.0"
		echo "xfrm state add src 10.0.1.2 dst 10.0.1.1 proto esp spi $((0x200000 + i))" \
			"reqid $((1000 + i)) mode transport aead rfc4106(gcm(aes)) $KEY 128" \
			"encap espintcp 4600 $((20000 + i)) 0.0.0.0"
		i=$((i + 1))
	done
}

# act_batch DIR I...: ip -batch lines, a policy in direction DIR for UDP
# from cli to srv's port 30000+I through connection I's states (reqid 1000+I)
act_batch() {
	_dir=$1
	shift
	for i in "$@"; do
		echo "xfrm policy add src 10.0.1.1 dst 10.0.1.2 proto udp dport $((30000 + i))" \
			"dir $_dir tmpl src 10.0.1.1 dst 10.0.1.2 proto esp reqid $((1000 + i)) mode transport"
	done
}

# Closed connections leave TIME_WAIT sockets behind for a minute, which
# the next connections on the same ports would free: each measurement
# starts in new namespaces, and from slab memory that has settled.
fresh_topo() {
	topo_up
	cli ip addr add 10.9.1.1/32 dev lo
	srv ip addr add 10.9.2.1/32 dev lo
	cli ip route add 10.9.2.1/32 via 10.0.1.2 src 10.9.1.1
	srv ip route add 10.9.1.1/32 via 10.0.1.1 src 10.9.2.1
}
settled_slab_kb() { # the old namespaces' cleanup runs from a workqueue
	_prev=$(slab_kb)
	for _i in 1 2 3 4 5 6 7 8; do
		sleep 1
		_cur=$(slab_kb)
		[ "$((_prev - _cur))" -lt 64 ] && [ "$((_cur - _prev))" -lt 64 ] && break
		_prev=$_cur
	done
	echo "$_cur"
}

# curve K: slab kB of K connections, plain TCP, with the ULP, and with the
# ULP and an SA pair each, every one from a baseline of its own; the plain
# connections' kB and opening time stay in curve_plain_kb and
# curve_plain_open_us (the last point, all CONNS, is the scale table's)
curve() {
	fresh_topo
	_b=$(settled_slab_kb)
	many_up "$1" plain || return 1
	_p=$(($(slab_kb) - _b))
	curve_plain_kb=$_p
	curve_plain_open_us=$(sed -n 's/^open_us //p' /tmp/many.out)
	many_down
	fresh_topo
	_b=$(settled_slab_kb)
	many_up "$1" || return 1
	_u=$(($(slab_kb) - _b))
	sa_batch "$1" > /tmp/curve.batch
	cli ip -batch /tmp/curve.batch
	srv ip -batch /tmp/curve.batch
	_a=$(($(slab_kb) - _b))
	cli ip xfrm state flush
	srv ip xfrm state flush
	many_down
	echo "#   $1 connections: plain TCP $_p kB, with the ULP $_u kB, with an SA pair each $_a kB"
	fig "scale.curve.$1" "$_p" "$_u" "$_a"
}

per_conn() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.2f", (b - a) / n }'; }

if part scale; then
CONNS=$(sed -n 's/.* bench_conns=\([0-9]*\).*/\1/p' /proc/cmdline)
CONNS=${CONNS:-1000}
sa_batch "$CONNS" > /tmp/sa.batch

echo "# memory against connections (slab kB, both ends):"
k0=0
for q in 1 2 3 4; do
	k=$((CONNS * q / 4))
	[ "$k" -gt "$k0" ] || continue
	curve "$k"
	k0=$k
done

fresh_topo
s0=$(settled_slab_kb)

t0=$(now_ms)
many_up "$CONNS"
t_conns=$(($(now_ms) - t0))
s_ulp=$(slab_kb)
n_ulp=$(cli ss -tieH state established 2> /dev/null | grep -c 'tcp-ulp-espintcp' || true)
tunnel 20000 4600
# one tunnel's transfer with its own SA pair only, then with the others'
# too, taking turns for ROUNDS rounds (one transfer under TCG is noisy);
# the states stay after the last round
sed 's/^xfrm state add \(.* spi [0-9]*\) .*/xfrm state delete \1/' /tmp/sa.batch > /tmp/sa.del
: > /tmp/scale1 && : > /tmp/scaleN
r=1
while [ "$r" -le "$ROUNDS" ]; do
	transfer scale1
	echo "$rate $cost" >> /tmp/scale1
	[ "$r" = 1 ] && s_tr=$(slab_kb)
	t0=$(now_ms)
	cli ip -batch /tmp/sa.batch
	srv ip -batch /tmp/sa.batch
	[ "$r" = 1 ] && t_states=$(($(now_ms) - t0)) s_sa=$(slab_kb) &&
		n_states=$(cli grep -c . /proc/net/espintcp_states)
	transfer scaleN
	echo "$rate $cost" >> /tmp/scaleN
	if [ "$r" -lt "$ROUNDS" ]; then
		cli ip -batch /tmp/sa.del
		srv ip -batch /tmp/sa.del
	fi
	r=$((r + 1))
done
scale_rounds=$(paired /tmp/scaleN /tmp/scale1 1 | tr '\n' ' ')
scale_ratio=$(paired_median /tmp/scaleN /tmp/scale1 1)
r1=$(cut -d' ' -f1 /tmp/scale1 | median) c1=$(cut -d' ' -f2 /tmp/scale1 | median)
rN=$(cut -d' ' -f1 /tmp/scaleN | median) cN=$(cut -d' ' -f2 /tmp/scaleN | median)
echo "# one tunnel, Mbit/s and CPU ms/MB by round: 1 SA pair: $(tr '\n' ' ' < /tmp/scale1| sed 's/ $//');" \
	"$((CONNS + 1)) SA pairs: $(tr '\n' ' ' < /tmp/scaleN | sed 's/ $//')"

# bench_seed=N: the same random half again
ACTIVE=$((CONNS / 2))
seed=$(sed -n 's/.* bench_seed=\([0-9]*\).*/\1/p' /proc/cmdline)
seed=${seed:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
rx=0 pol='?' act='?'
if [ "$ACTIVE" -gt 0 ]; then
	# shellcheck disable=SC2046 # the indices, one word each
	set -- $(awk -v n="$CONNS" -v k="$ACTIVE" -v seed="$seed" 'BEGIN {
		srand(seed)
		while (c < k) { i = int(rand() * n); if (!(i in p)) { p[i]; c++; print i } }
	}')
	act_batch out "$@" > /tmp/act.cli
	act_batch in "$@" > /tmp/act.srv
	s_pre=$(slab_kb)
	cli ip -batch /tmp/act.cli
	srv ip -batch /tmp/act.srv
	s_pol=$(slab_kb)
	rx0=$(srv awk '$1 == "esp_rx_msgs" { print $2 }' /proc/net/espintcp)
	for i in "$@"; do
		cli /tests/bin/udp_blast 4 10.0.1.2 $((30000 + i)) 10 200 $((0x100000 + i)) > /dev/null
	done
	for _i in $(seq 100); do
		rx=$(($(srv awk '$1 == "esp_rx_msgs" { print $2 }' /proc/net/espintcp) - rx0))
		[ "$rx" -ge $((10 * ACTIVE)) ] && break
		sleep 0.1
	done
	s_act=$(slab_kb)
	pol=$(per_conn "$s_pre" "$s_pol" "$ACTIVE")
	act=$(per_conn "$s_pol" "$s_act" "$ACTIVE")
fi
# the teardown's time is the states' and the connections', as before
cli ip xfrm policy flush; srv ip xfrm policy flush
t0=$(now_ms)
cli ip xfrm state flush; srv ip xfrm state flush
many_down
t_down=$(($(now_ms) - t0))
t_close=$(sed -n 's/^close_us //p' /tmp/many.out)
left=$(cli grep -c . /proc/net/espintcp_states || true)
topo_down
unloaded=yes
rmmod_wait > /dev/null 2>&1 || unloaded=no
s_end=$(settled_slab_kb)

echo "#"
echo "# $CONNS espintcp connections on one server (both ends in this guest), slab kB from /proc/meminfo:"
plain=$(per_conn 0 "$curve_plain_kb" "$CONNS")
ulp=$(per_conn "$s0" "$s_ulp" "$CONNS")
sa=$(per_conn "$s_tr" "$s_sa" "$CONNS")
echo "#   plain TCP: $plain kB per connection (both ends), opened in $((curve_plain_open_us / 1000)) ms"
echo "#   with the ULP at both ends: $ulp kB per connection ($(awk -v a="$ulp" -v b="$plain" 'BEGIN { printf "%+.2f", a - b }') kB for the ULP);" \
	"$n_ulp of $CONNS show tcp-ulp-espintcp in ss; set up in $t_conns ms"
echo "#   an SA pair at each end: $sa kB more per connection; $((4 * CONNS)) states added in $t_states ms;" \
	"$n_states lines in cli's espintcp_states"
echo "#   $ACTIVE of them active (random, seed $seed): a policy pair each, $pol kB; 10 datagrams each," \
	"$rx of $((10 * ACTIVE)) received as ESP in the stream, then $act kB more per active connection"
echo "#   one tunnel's iperf3, with 1 SA pair: $r1 Mbit/s, $c1 cpu_ms/MB; with $((CONNS + 1)): $rN Mbit/s, $cN cpu_ms/MB; ratio by round $scale_rounds(median $scale_ratio)"
echo "#   teardown (state flush, $((2 * CONNS)) sockets closed): $t_down ms; $left states left; module unloaded: $unloaded;" \
	"slab $((s_end - s0)) kB from the start"
fig scale.conns "$CONNS"
fig scale.plain_tcp_kb_per_conn "$plain"
fig scale.ulp_kb_per_conn "$ulp"
fig scale.sa_pair_kb_per_conn "$sa"
fig scale.active "$ACTIVE"
fig scale.active_seed "$seed"
fig scale.active_esp_rx "$rx"
fig scale.active_policy_kb_per_conn "$pol"
fig scale.active_traffic_kb_per_conn "$act"
fig scale.unloaded "$unloaded"
fig scale.setup_conns_ms "$t_conns"
fig scale.setup_states_ms "$t_states"
fig scale.teardown_ms "$t_down"
fig scale.close_us "$t_close"
fig scale.rounds "$ROUNDS"
fig scale.mbit_s_1 "$r1"
fig scale.mbit_s_n "$rN"
fig scale.cpu_ms_per_mb_1 "$c1"
fig scale.cpu_ms_per_mb_n "$cN"
fig scale.ratio_n_1 "$scale_ratio"
fig scale.rounds_ratio_n_1 "$scale_rounds"
fig scale.slab_kb_left "$((s_end - s0))"
fig scale.states_left "$left"
fi
# every part it was asked for ran to its end (run.sh checks)
fig bench.done 1
