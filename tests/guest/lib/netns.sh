# Test topology and TAP helpers, sourced by the guest test scripts.
#
#   +------------ netns cli ------------+       +------------ netns srv ------------+
#   |                                   |       |                                   |
#   |  veth0  10.0.1.1/24               | veth  |  veth0  10.0.1.2/24               |
#   |         fd00:1::1/64  ------------+-------+---------  fd00:1::2/64            |
#   |  lo                               |       |  lo                               |
#   +-----------------------------------+       +-----------------------------------+
#
#   On both veth0, ingress and egress (clsact, u32, action drop), filter N:
#     1  IPv4 protocol 17 (UDP)      3  IPv6 next header 17 (UDP)
#     2  IPv4 protocol 50 (ESP)      4  IPv6 next header 50 (ESP)
#                                    5  IPv6 next header 44 (fragment: it
#                                       would hide a UDP or ESP payload)
#   Filter N is pref N on ingress and pref 10+N on egress (u32 lists the hash
#   tables of both clsact directions under one pref, so they must differ).
#   so only TCP, ICMP, ICMPv6 and ARP cross the link: ESP-in-TCP either goes
#   through the TCP connection or not at all.
#   topo_shape RATE adds a tbf root qdisc on both veth0 (the filters stay).
#
# cli/srv CMD... run a command in a namespace.

cli() { ip netns exec cli "$@"; }
srv() { ip netns exec srv "$@"; }

topo_down() {
	ip netns del cli 2>/dev/null || true
	ip netns del srv 2>/dev/null || true
}

topo_up() {
	topo_down
	ip netns add cli
	ip netns add srv
	ip link add veth0 netns cli type veth peer name veth0 netns srv
	_topo_end cli 1
	_topo_end srv 2
	_topo_wait cli
	_topo_wait srv
}

# Until linkwatch runs, a new veth's qdisc is noop and drops everything.
_topo_wait() { # NS
	for _i in $(seq 50); do
		[ "$(ip -n "$1" -o link show dev veth0 | grep -c 'state UP')" = 1 ] && return 0
		sleep 0.1
	done
	echo "# netns.sh: veth0 in $1 did not come up" >&2
	return 1
}

_topo_end() { # NS HOST
	ip -n "$1" link set lo up
	ip -n "$1" addr add "10.0.1.$2/24" dev veth0
	# a guest booted with ipv6.disable=1 has IPv4 only
	[ ! -d /proc/sys/net/ipv6 ] ||
		ip -n "$1" addr add "fd00:1::$2/64" dev veth0 nodad
	ip -n "$1" link set veth0 up
	topo_filters "$1"
}

# topo_filters NS: clsact and the drop filters above on $TOPO_DEV (veth0
# unless set) of NS
topo_filters() {
	tc -n "$1" qdisc add dev "${TOPO_DEV:-veth0}" clsact
	for dir in ingress egress; do
		_drop "$1" "$dir" ip 1 "match ip protocol 17 0xff"
		_drop "$1" "$dir" ip 2 "match ip protocol 50 0xff"
		_drop "$1" "$dir" ipv6 3 "match ip6 protocol 17 0xff"
		_drop "$1" "$dir" ipv6 4 "match ip6 protocol 50 0xff"
		_drop "$1" "$dir" ipv6 5 "match ip6 protocol 44 0xff"
	done
}

_pref() { # DIR N
	if [ "$1" = egress ]; then echo $((10 + $2)); else echo "$2"; fi
}

_drop() { # NS DIR PROTO N MATCH
	# shellcheck disable=SC2086
	tc -n "$1" filter add dev "${TOPO_DEV:-veth0}" "$2" protocol "$3" pref "$(_pref "$2" "$4")" \
		u32 $5 action drop
}

# Removes drop filter N (see above): topo_undrop NS ingress|egress N
topo_undrop() {
	tc -n "$1" filter del dev "${TOPO_DEV:-veth0}" "$2" pref "$(_pref "$2" "$3")"
}

topo_shape() { # [RATE]
	for ns in cli srv; do
		tc -n "$ns" qdisc replace dev veth0 root tbf rate "${1:-10mbit}" burst 32kbit latency 100ms
	done
}

topo_unshape() {
	for ns in cli srv; do
		tc -n "$ns" qdisc del dev veth0 root 2>/dev/null || true
	done
}

# Packets dropped so far by drop filter N: tc_dropped NS ingress|egress N
tc_dropped() {
	tc -s -n "$1" filter show dev "${TOPO_DEV:-veth0}" "$2" pref "$(_pref "$2" "$3")" |
		sed -n 's/.*(dropped \([0-9]*\),.*/\1/p' | head -n 1
}

# TAP, unnumbered: ok - DESC / not ok - DESC / ok - DESC # SKIP WHY
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
skip() { # DESC WHY
	echo "ok - $1 # SKIP $2"
}
# check DESC CMD...: ok if CMD exits 0; its output becomes diagnostics.
check() {
	_d=$1
	shift
	if _out=$("$@" 2>&1); then ok "$_d"; else
		not_ok "$_d"
		printf '%s\n' "$_out" | sed 's/^/# /'
	fi
}
# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"
		echo "# expected: '$2'"
		echo "# got:      '$3'"
	fi
}
# check_poll DESC EXPECTED CMD...: like check_eq on CMD's output, for a
# value the kernel reaches a moment later (xfrm's GC, a late ping reply):
# CMD is polled every 0.1 s for up to 20 s. CMD may be a shell function.
check_poll() {
	_d=$1 _e=$2
	shift 2
	for _i in $(seq 200); do
		_v=$("$@" 2>&1)
		[ "$_v" = "$_e" ] && break
		sleep 0.1
	done
	check_eq "$_d" "$_e" "$_v"
}

# poll_until CMD...: runs CMD every 0.1 s until it succeeds, for up to 20 s
poll_until() {
	for _i in $(seq 200); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	"$@"
}

# wait_listen NS PORT: until a TCP socket listens on PORT in NS
wait_listen() {
	poll_until _listening "$@"
}
_listening() {
	ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .
}

# rmmod_wait: rmmod espintcp, retried for up to 30 s: closed sockets and
# flushed states hold the module until TCP and xfrm's GC are done with them
rmmod_wait() {
	for _i in $(seq 300); do
		rmmod espintcp 2>/dev/null && return 0
		sleep 0.1
	done
	rmmod espintcp
}
