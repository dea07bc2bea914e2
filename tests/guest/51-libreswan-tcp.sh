#!/bin/sh
# libreswan's own ESP-in-TCP test scenarios (testing/pluto/ikev2-tcp-*),
# run with Debian's libreswan through the module. Each scenario's files,
# unchanged, are in lib/libreswan-tcp/<scenario>/ (its README says from
# which libreswan commit): the hosts' configurations and secrets, the
# *init.sh/*run.sh/final.sh commands, run line by line as libreswan's
# test driver does, and the expected consoles they are compared with.
#
# Hosts are network namespaces, one pluto each (lib/libreswan.sh), with
# libreswan's testing addresses:
#
#   west: eth0 192.0.1.254/24 2001:db8:0:1::254/64   (a veth to eth0p)
#         eth1 192.1.2.45/24  2001:db8:1:2::45/64
#                 |  veth, netns.sh's UDP and ESP drop filters on both ends
#   east: eth1 192.1.2.23/24  2001:db8:1:2::23/64
#         eth0 192.0.2.254/24 2001:db8:0:2::254/64   (a veth to eth0p)
#
# A scenario with nic (libreswan's router) puts it between them, and road
# or north behind it (lsw_topo):
#
#   west eth1, east eth1 ---- nic: eth1 (a bridge) 192.1.2.254/24
#                                  eth0 192.1.3.254/24 ---- road:  eth1 192.1.3.209/24
#                                                      or   north: eth1 192.1.3.33/24
#                                                                  eth0 192.0.3.254/24
#
# The hosts of a scenario are those with an expected console. The
# commands run as written; libreswan's test tooling has plain
# equivalents here (lsw_exec): swan-prep (a host's NSS database and its
# files), ipsec (pluto, addconn and whack on the host's files; libreswan
# 4's spellings of whack options where they differ), iptables/ip6tables
# (the rules and commands the scenarios use, as nft), ping-once.sh,
# wait-until-alive (busybox ping), wait-for-pluto.sh, ip-route.sh,
# ifconfig, hostname and x509/import.sh (a self-signed certificate). Each host's console (what the commands
# printed) is compared with the expected one on the lines that matter
# (lsw_view: ping results, traffic status, the encap lines of the xfrm
# states), after one normalisation (lsw_normalise). A scenario that needs
# a newer libreswan than pluto --version says is skipped, saying why.
#
# script_timeout: 900
set -u
. /tests/guest/lib/netns.sh
. /tests/guest/lib/esp.sh
. /tests/guest/lib/libreswan.sh

lsw=/tests/guest/lib/libreswan-tcp
# espintcp=upstream (check.sh, on the reference kernel): the kernel's own
# espintcp, no module; the same scenarios and link checks, to compare with
upstream=0
case " $(cat /proc/cmdline) " in *" espintcp=upstream "*) upstream=1 ;; esac
TOPO_DEV=eth1
start=$(date +%s)

if ! ls_init; then
	skip "libreswan's ikev2-tcp scenarios" "pluto is not in the initramfs, or says no version"
	exit 0
fi

# the hosts of the scenario (scenario sets them): west and east on one
# link, or with nic (libreswan's router: 192.1.2.254, and 192.1.3.254 for
# road or north behind it)
hosts="east west"
ends="east west"

# pluto runs its updown as "ipsec _updown": libreswan's script (routes,
# firewall rules) is not in the guest, and the topology has the routes.
# This ipsec answers that call only; the scenarios' own "ipsec" commands
# are the function below.
mkdir -p /run/lsw-bin
cat > /run/lsw-bin/ipsec <<'END'
#!/bin/sh
[ "$1" = _updown ] && exit 0
echo "ipsec $1: not in the guest" >&2
exit 1
END
chmod 755 /run/lsw-bin/ipsec
PATH=/run/lsw-bin:$PATH

# lsw_topo: the hosts of $hosts. Without nic, west's and east's eth1 are
# the two ends of one veth. With nic, the 192.1.2.0/24 hosts' eth1 are
# veths to a bridge in nic (nic's eth1, 192.1.2.254, their default
# route), and road (eth1 192.1.3.209) or north (eth1 192.1.3.33, eth0
# 192.0.3.254) is on a veth to nic's eth0 (192.1.3.254, their default
# route); nic forwards. netns.sh's UDP and ESP drop filters are on each
# host's eth1 but nic's ($ends).
lsw_topo() {
	lsw_topo_down
	ends=
	for h in $hosts; do
		ip netns add "$h"
		[ "$h" = nic ] || ends="$ends $h"
	done
	case " $hosts " in
	*" nic "*)
		ip -n nic link set lo up
		ip -n nic link add eth1 type bridge
		ip -n nic addr add 192.1.2.254/24 dev eth1
		ip -n nic link set eth1 up
		ip netns exec nic sysctl -qw net.ipv4.ip_forward=1
		for h in $ends; do
			case $h in
			west|east)
				ip link add eth1 netns "$h" type veth peer name "$h" netns nic
				ip -n nic link set "$h" master eth1 up ;;
			*)
				ip link add eth1 netns "$h" type veth peer name eth0 netns nic
				ip -n nic addr add 192.1.3.254/24 dev eth0
				ip -n nic link set eth0 up ;;
			esac
		done ;;
	*)	ip link add eth1 netns west type veth peer name eth1 netns east ;;
	esac
	for h in $ends; do
		case $h in
		west) _lsw_host west 45 1 23 2 ;;
		east) _lsw_host east 23 2 45 1 ;;
		road) _lsw_road road 209 ;;
		north) _lsw_road north 33
			ip -n north link add eth0 type veth peer name eth0p
			ip -n north addr add 192.0.3.254/24 dev eth0
			ip -n north link set eth0 up
			ip -n north link set eth0p up ;;
		esac
	done
	for h in $ends; do
		for _i in $(seq 50); do
			ip -n "$h" -o link show dev eth1 | grep -q 'state UP' && break
			sleep 0.1
		done
		topo_filters "$h"
	done
}
_lsw_host() { # NS HOST-NR OWN-NET PEER-NR PEER-NET
	ip -n "$1" link set lo up
	ip -n "$1" link add eth0 type veth peer name eth0p
	ip -n "$1" addr add "192.1.2.$2/24" dev eth1
	ip -n "$1" addr add "2001:db8:1:2::$2/64" dev eth1 nodad
	ip -n "$1" addr add "192.0.$3.254/24" dev eth0
	ip -n "$1" addr add "2001:db8:0:$3::254/64" dev eth0 nodad
	for d in eth0 eth0p eth1; do ip -n "$1" link set "$d" up; done
	ip -n "$1" route add "192.0.$5.0/24" via "192.1.2.$4" src "192.0.$3.254"
	ip -n "$1" route add "2001:db8:0:$5::/64" via "2001:db8:1:2::$4" src "2001:db8:0:$3::254"
	case " $hosts " in
	*" nic "*) ip -n "$1" route add default via 192.1.2.254 ;;
	esac
}
_lsw_road() { # NS HOST-NR: on 192.1.3.0/24, behind nic
	ip -n "$1" link set lo up
	ip -n "$1" addr add "192.1.3.$2/24" dev eth1
	ip -n "$1" link set eth1 up
	ip -n "$1" route add default via 192.1.3.254
}
lsw_topo_down() {
	for h in east west nic north road; do pluto_stop "$h"; done
	# the closed streams end while the links are up: a stream whose
	# peer went with its namespace would pin the module (its ULP) for
	# as long as TCP retransmits its FIN
	for h in east west nic north road; do
		for _i in $(seq 100); do
			[ -n "$(ip netns exec "$h" ss -Htan 2>/dev/null |
				grep -vE '^(LISTEN|TIME-WAIT) ')" ] || break
			sleep 0.1
		done
	done
	for h in east west nic north road; do
		ip netns del "$h" 2>/dev/null || true
	done
}
# lsw_open PROTO...: lets IPv4 udp and/or esp cross the link, both ways
lsw_open() {
	for p in "$@"; do
		case $p in udp) f=1 ;; esp) f=2 ;; esac
		for h in $ends; do
			for d in ingress egress; do topo_undrop "$h" "$d" "$f"; done
		done
	done
}
# lsw_dropped N: packets drop filter N stopped leaving either host
lsw_dropped() {
	_n=0
	for h in $ends; do _n=$((_n + $(tc_dropped "$h" egress "$1"))); done
	echo "$_n"
}

# --- libreswan's test tooling, for the commands of the scenarios --------
# Each runs on $host, the host whose commands are being run.

swan_prep() { # [--nokeys|--46|--x509]: the host's NSS database and files
	ls_prep "$host"
	d=/etc/ls-$host
	conf=$sdir/$host.conf
	[ -f "$conf" ] || conf=$sdir/ipsec.conf
	# one file system for all hosts: each pluto's dumps its own, and
	# its log to /tmp/pluto-HOST.log (--stderrlog)
	# libreswan 4's keyexchange= knows "ike" only; IKEv2 is its
	# default: keyexchange=ikev2 goes
	_kx=
	[ "$ls_major" -ge 5 ] || _kx='/^[[:space:]]*keyexchange=ikev2[[:space:]]*$/d'
	sed -e "/^[[:space:]]*logfile=/d" -e "${_kx:-s/^//}" \
		-e "s|dumpdir=.*|dumpdir=/run/ls-$host|" \
		-e "s|^include .*ipsec.conf.common|include $lsw/baseconfigs.conf|" \
		"$conf" > "$d/ipsec.conf"
	secrets=$sdir/$host.secrets
	[ -s "$secrets" ] || secrets=$sdir/ipsec.secrets
	if [ -s "$secrets" ]; then
		cp "$secrets" "$d/ipsec.secrets"
	else	# RSA keys in libreswan's, the key of baseconfigs.conf here
		echo '@west @east : PSK "ABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890"' > "$d/ipsec.secrets"
	fi
	echo "Initializing NSS database"
}

wait_until_pluto_started() {
	pluto_wait "$host" || echo "giving up"
}

# ipsec COMMAND...: libreswan's ipsec(8), on the host's pluto
ipsec() {
	_c=$1
	shift
	case $_c in
	start) pluto_spawn "$host"; echo "Redirecting to: [initsystem]" ;;
	stop) pluto_stop "$host" ;;
	add) ip netns exec "$host" addconn --config "/etc/ls-$host/ipsec.conf" \
		--ctlsocket "/run/ls-$host/pluto.ctl" "$@" ;;
	auto) _a=$1; shift; case $_a in
		--add) ipsec add "$@" ;;
		--up) ipsec up "$@" ;;
		--down) ipsec down "$@" ;;
		esac ;;
	up) w "$host" --name "$1" --initiate ;;
	down) w "$host" --name "$1" --terminate ;;
	trafficstatus) w "$host" --trafficstatus ;;
	briefstatus|status) w "$host" --status ;;
	connectionstatus) w "$host" --name "$1" --connectionstatus ;;
	whack) lsw_whack "$@" ;;
	_kernel) ip -n "$host" xfrm "$@" ;;
	*) echo "ipsec $_c: not emulated"; return 1 ;;
	esac
}

# whack with libreswan 5's options spelled as the guest's pluto knows them
lsw_whack() {
	if [ "$ls_major" -ge 5 ]; then
		w "$host" "$@"
		return
	fi
	_args=
	while [ $# -gt 0 ]; do
		case $1 in
		--rekey-child) _args="$_args --rekey-ipsec" ;;
		--impair)
			shift
			case $1 in
			trigger_revival:*)
				# libreswan 4 has no revival to trigger: its
				# next keying attempt starts by itself
				lsw_next_attempt
				return ;;
			esac
			_args="$_args --impair $(echo "$1" | tr _ -)" ;;
		*) _args="$_args $1" ;;
		esac
		shift
	done
	# shellcheck disable=SC2086
	w "$host" $_args
}

# libreswan 4: waits for the keying attempt pluto started by itself after
# the first one timed out: until a Child SA is up or that attempt timed
# out too (its "timeout exceeded" line in the log)
lsw_next_attempt() {
	for _i in $(seq 300); do
		w "$host" --trafficstatus 2>/dev/null | grep -q 'type=ESP' && return 0
		[ "$(grep -c 'timeout exceeded' "/tmp/pluto-$host.log")" -ge 2 ] && return 0
		sleep 0.1
	done
}

# iptables/ip6tables ARGS: the rules and commands the scenarios use, as
# nft: a table per family and iptables table (filter, nat), a base chain
# per iptables chain (INPUT, FORWARD, OUTPUT, PREROUTING, POSTROUTING) on
# its hook; -I inserts (at position N when given, as iptables), -A adds,
# -F flushes, -L lists the table (in nft's words)
iptables() { _lsw_nft ip "$@"; }
ip6tables() { _lsw_nft ip6 "$@"; }
_lsw_nft() {
	_fam=$1 _tab=filter _op='' _chain='' _pos='' _rule='' _p=''
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		-t) _tab=$2; shift ;;
		-F) _op=flush ;;
		-L) _op=list ;;
		-n) ;;
		-I|-A)
			if [ "$1" = -I ]; then _op=insert; else _op=add; fi
			_chain=$2
			shift
			case ${2:-} in [0-9]*) _pos=$2; shift ;; esac ;;
		-i) _rule="$_rule iifname $2"; shift ;;
		-s|--source|-d|--destination)
			case $1 in -s|--source) _d=saddr ;; *) _d=daddr ;; esac
			case $2 in 0.0.0.0/0|::/0) ;; *) _rule="$_rule $_fam $_d $2" ;; esac
			shift ;;
		-p|--proto)
			case $2 in udp|tcp) _p=$2 ;; esac
			_rule="$_rule meta l4proto $2"; shift ;;
		--dport) _rule="$_rule $_p dport $2"; shift ;;
		--icmpv6-type) _rule="$_rule icmpv6 type $2"; shift ;;
		-m) [ "$2" = policy ] || { echo "iptables -m $2: not emulated"; return 1; }; shift ;;
		--dir) shift ;;
		--pol) _rule="$_rule meta secpath exists"; shift ;;
		-j) case $2 in
			DROP) _rule="$_rule counter drop" ;;
			ACCEPT) _rule="$_rule counter accept" ;;
			SNAT) _rule="$_rule counter snat to" ;;
			*) echo "iptables -j $2: not emulated"; return 1 ;;
			esac; shift ;;
		--to-source) _rule="$_rule $2"; shift ;;
		*) echo "iptables $1: not emulated"; return 1 ;;
		esac
		shift
	done
	case $_op in
	flush) ip netns exec "$host" nft flush table "$_fam" "$_tab" 2>/dev/null
		return 0 ;;
	list) ip netns exec "$host" nft list table "$_fam" "$_tab" 2>/dev/null
		return 0 ;;
	esac
	_hook=$(echo "$_chain" | tr '[:upper:]' '[:lower:]')
	_type=filter _prio=0
	if [ "$_tab" = nat ]; then
		_type=nat
		case $_hook in postrouting|input) _prio=100 ;; *) _prio=-100 ;; esac
	fi
	ip netns exec "$host" nft add table "$_fam" "$_tab"
	ip netns exec "$host" nft add chain "$_fam" "$_tab" "$_chain" \
		"{ type $_type hook $_hook priority $_prio; policy accept; }"
	if [ -n "$_pos" ]; then
		# iptables -I CHAIN N: before the Nth rule, or last if
		# there are N - 1
		_n=$(ip netns exec "$host" nft -a list chain "$_fam" "$_tab" "$_chain" |
			grep -c '[^{] # handle [0-9]*$')
		if [ "$_pos" -gt "$_n" ]; then
			_op=add
		else
			_op="insert"
			_rule=" index $((_pos - 1))$_rule"
		fi
	fi
	# shellcheck disable=SC2086
	ip netns exec "$host" nft "$_op" rule "$_fam" "$_tab" "$_chain" $_rule
}

# hostname: the host's name (a network namespace has the guest's)
hostname() { echo "$host"; }

# ifconfig DEV:N ADDR: ADDR on DEV labelled DEV:N, /24 as ifconfig's
# default for a class C address
ifconfig() { ip -n "$host" addr add "$2/24" dev "${1%%:*}" label "$1"; }

# ip-route.sh ARGS: ip route on the host
ip_route() { ip -n "$host" route "$@"; }

# wait-for-pluto.sh [--timeout S] [--match] REGEX: until pluto's log
# (without its debug lines) has a line matching REGEX, printed; 30 s
wait_for_pluto() {
	_to=30 _re=
	while [ $# -gt 0 ]; do
		case $1 in
		--timeout) _to=$2; shift ;;
		--match) ;;
		*) _re=$1 ;;
		esac
		shift
	done
	for _i in $(seq $((_to * 5))); do
		grep -v '|' "/tmp/pluto-$host.log" | grep -- "$_re" && return 0
		sleep 0.2
	done
	echo "timeout waiting $_to seconds for $_re"
	return 1
}

# /testing/x509/import.sh real/mainca/NAME.p12: libreswan's test PKI is
# not in the guest: NAME's certificate, self-signed, with a new 2048-bit
# RSA key, in the host's NSS database under NAME
x509_import() {
	_n=${1##*/}
	_n=${_n%.p12}
	head -c 64 /dev/urandom > "/tmp/lsw/noise-$host"
	certutil -S -d "sql:/etc/ls-$host/nss" -n "$_n" -x -t u,u,u -k rsa -g 2048 \
		-v 12 -z "/tmp/lsw/noise-$host" \
		-s "CN=$_n.testing.libreswan.org,OU=Test Department,O=Libreswan,L=Toronto,ST=Ontario,C=CA" < /dev/null
}

# ping-once.sh --up|--down|--fire-and-forget [-I SRC] DST: one ping;
# prints up or down (or "fired and forgotten"), as libreswan's, which
# waits 5 s for --up and 1 s for the others
ping_once() {
	_op=$1 _src=
	shift
	[ "$1" = -I ] && { _src="-I $2"; shift 2; }
	case $_op in --up) _wait=5 ;; *) _wait=1 ;; esac
	if [ "$_op" = --fire-and-forget ]; then
		# shellcheck disable=SC2086
		ip netns exec "$host" ping -c 1 -w 1 -W 1 $_src "$1" > /dev/null 2>&1
		echo "fired and forgotten"
		return 0
	fi
	# shellcheck disable=SC2086
	if ip netns exec "$host" ping -c 1 -w "$_wait" -W "$_wait" $_src "$1" > /tmp/ping.out 2>&1; then
		_r=up
	else
		_r=down
	fi
	if [ "$_r" = "${_op#--}" ]; then
		echo "$_r"
	else
		echo "$_r UNEXPECTED"
		sed 's/^/# /' /tmp/ping.out
		return 1
	fi
}

# ncat NAME PORT: tests/guest/ncat.c on the host, to a host by its name
ncat() {
	case $1 in
	east) _addr=192.1.2.23 ;;
	west) _addr=192.1.2.45 ;;
	*) _addr=$1 ;;
	esac
	ip netns exec "$host" /tests/bin/ncat "$_addr" "$2"
}

# printf as bash's: the scenarios' byte strings have \xHH, which dash's
# printf does not know
lsw_printf() { bash -c 'printf "$@"' printf "$@"; }

# dmesg -n LEVEL: the guest's console level is the harness's, left alone
dmesg() { :; }

# ping ARGS: busybox's on the host; it has no -n (it does not resolve)
ping() {
	_a=
	for a in "$@"; do [ "$a" = -n ] || _a="$_a $a"; done
	# shellcheck disable=SC2086
	ip netns exec "$host" ping $_a
}

ipsec_look() { # the xfrm part of libreswan's ipsec-look.sh
	echo "$host NOW"
	echo "XFRM state:"
	ip -n "$host" xfrm state
	echo "XFRM policy:"
	ip -n "$host" xfrm policy
	echo "XFRM done"
}

wait_until_alive() { # -I SRC DST
	if ip netns exec "$host" ping -n -c 1 -w 4 "$@" > /dev/null 2>&1; then
		echo "destination $* is alive"
	else
		echo "destination $* is dead"
		return 1
	fi
}

# lsw_exec HOST FILE: FILE's commands on HOST, as libreswan's driver runs
# them, each after a prompt, their output into HOST's console
# (/tmp/lsw/HOST.console); the tooling's paths become the functions above
lsw_exec() {
	host=$1
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		printf '%s #\n %s\n' "$host" "$line" >> "/tmp/lsw/$host.console"
		cmd=$(printf '%s\n' "$line" | sed -e 's|/testing/guestbin/swan-prep|swan_prep|' \
			-e 's|\.\./\.\./guestbin/ping-once\.sh|ping_once|g' \
			-e 's|\.\./\.\./guestbin/wait-until-alive|wait_until_alive|' \
			-e 's|\.\./\.\./guestbin/wait-until-pluto-started|wait_until_pluto_started|' \
			-e 's|\.\./\.\./guestbin/ipsec-look\.sh|ipsec_look|' \
			-e 's|\.\./\.\./guestbin/wait-for-pluto\.sh|wait_for_pluto|' \
			-e 's|\.\./\.\./guestbin/ip-route\.sh|ip_route|' \
			-e 's|/testing/x509/import\.sh|x509_import|' \
			-e "s|/tmp/pluto\.log|/tmp/pluto-$host.log|g" \
			-e 's|printf |lsw_printf |g')
		case $cmd in \#*) continue ;; esac
		_t0=$(date +%s)
		eval "$cmd" < /dev/null >> "/tmp/lsw/$host.console" 2>&1
		echo "$(($(date +%s) - _t0)) s: $host # $line" >> /tmp/lsw/times
	done < "$2"
}

# lsw_view: the lines of a console (stdin) that are compared: each
# ping-once.sh or ping with its result, traffic status with its Child SA
# lines, ipsec _kernel state with the encap lines of the states, pluto's
# log lines on TCP connections ("connection from"), ncat's errors, and
# the bytes ncat received where a hexdump shows them; each after its
# host's prompt and command
lsw_view() {
	awk '
	function start(c) {
		kind = ""
		if (c ~ /ping-once|^ping /) kind = "ping"
		else if (c ~ /trafficstatus/) kind = "traffic"
		else if (c ~ /_kernel state|ipsec-look/) kind = "state"
		else if (c ~ /grep .\^connection from/) kind = "log"
		else if (c ~ /^send .*\| hexdump$/) kind = "hexdump"
		else if (c ~ /^send /) kind = "ncat"
		if (kind != "") print prompt " " c
	}
	NR == 1 && !/ #$/ { next }
	/^[a-z]+ #$/ { prompt = $0; expect_cmd = 1; kind = ""; next }
	expect_cmd { expect_cmd = 0; start(substr($0, 2)); next }
	kind == "ping" && (/^(up|down)( UNEXPECTED)?$/ || / packets transmitted/) { print }
	kind == "traffic" && /#[0-9]+: "/ { print }
	kind == "state" && /^\tencap / { print }
	kind == "log" && /^connection from / { print }
	kind ~ /ncat|hexdump/ && /^N?cat: / { print }
	kind == "hexdump" && /^[0-9a-f]+( |$)/ { print }
	'
}

# lsw_normalise FILE: the one normalisation, on expected and actual views
# alike, in place; each rule's count of lines of FILE it changed appended
# to /tmp/lsw/rules as "RULE COUNT". The rules:
#   whack-code     libreswan 4's whack puts a 3-digit code before each line
#                  ("006 #2: ..."); 5 does not
#   tcp-log-4.3    pluto 4.0-4.3's five log lines for a TCP stream that
#                  ends early (ikev2-tcp-08-fail-eof) say the same in the
#                  words 4.4 (commit 48b771201b's series) gave them
#   syntax-4       pluto 4's log line for its INVALID_SYNTAX answer to a
#                  bare IKE_SA_INIT header (ikev2-tcp-09-fail-timeout)
#                  in 5's words, which add what the request lacked
#   add-time       add_time=N becomes libreswan's own 1234567890
#   ephemeral      the TCP client's port (whole: 45004 is no 4500) in
#                  encap lines and pluto's
#                  "connection from" lines becomes EPHEM, as libreswan's
#                  sanitizer writes it
#   socket-fd      pluto's "socket N" becomes "socket XX", as libreswan's
#                  sanitizer writes it
#   ping-summary   busybox's "N packets received" is iputils' "N received",
#                  and iputils' ", time XXXX" goes
#   max-bytes      traffic status's ", maxBytes=..." goes: libreswan 4.3
#                  does not print it
#   espinudp       the module's TCP states show "encap type espinudp"
#                  (README, "Where it differs from upstream"): espintcp
#   state-order    the encap lines of one state listing, sorted: xfrm
#                  lists the newest state first, and libreswan 4 installs
#                  a Child SA's inbound state last where 5 installs it
#                  first
lsw_normalise() {
	for r in "whack-code s/^[0-9][0-9][0-9] //" \
		"tcp-log-4.3 s/: TCP: accepting connection$/: IKETCP ACCEPTED: socket XX: accepted connection/;s/: TCP: problem reading IKETCP prefix from socket [0-9]* - returned \([0-9]*\) bytes but expecting \([0-9]*\); closing socket$/: IKETCP ACCEPTED: socket XX: reading 'IKETCP' prefix returned \1 bytes but expecting \2; closing socket/;s/: TCP: did not receive the IKE-in-TCP stream prefix ; closing socket$/: IKETCP ACCEPTED: socket XX: prefix did not match 'IKETCP'; closing socket/;s/: TCP: 0 byte message from socket [0-9]* indicates EOF$/: IKETCP PREFIX_RECEIVED: socket XX: 0 byte first packet indicates EOF/;s/: TCP: read from socket [0-9]* failed Errno \([0-9]*\): \(.*\)$/: IKETCP PREFIX_RECEIVED: socket XX: reading first packet failed: \2 (errno \1)/" \
		"syntax-4 s/: responding to IKE_SA_INIT (34) message (Message ID 0) with unencrypted notification INVALID_SYNTAX$/: responding to IKE_SA_INIT request with Message ID 0 with unencrypted notification INVALID_SYNTAX, IKE_SA_INIT request (Message ID 0; no payloads, missing SA,KE,Ni)/" \
		"add-time s/add_time=[0-9]*/add_time=1234567890/" \
		"ephemeral s/sport [0-9][0-9]* dport 4500 /sport EPHEM dport 4500 /;s/sport 4500 dport [0-9][0-9]* /sport 4500 dport EPHEM /;s/^\(connection from [0-9.]*\):[0-9][0-9]*:/\1:EPHEM:/" \
		"socket-fd s/: socket [0-9][0-9]*:/: socket XX:/" \
		"ping-summary s/ packets received,/ received,/;s/, time .*//" \
		"max-bytes s/, maxBytes=[^,]*,/,/" \
		"espinudp s/encap type espinudp /encap type espintcp /" \
		"state-order"; do
		case $r in
		state-order) _lsw_sort_encap < "$1" > "$1.new" ;;
		*) sed "${r#* }" "$1" > "$1.new" ;;
		esac
		echo "${r%% *} $(awk 'NR == FNR { a[FNR] = $0; next }
			a[FNR] != $0 { n++ } END { print n + 0 }' "$1" "$1.new")" >> /tmp/lsw/rules
		mv "$1.new" "$1"
	done
}
_lsw_sort_encap() {
	awk 'function flush(  i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && e[j - 1] > e[j]; j--) {
				t = e[j]; e[j] = e[j - 1]; e[j - 1] = t
			}
		for (i = 1; i <= n; i++) print e[i]
		n = 0
	}
	/^\tencap / { e[++n] = $0; next }
	{ flush(); print }
	END { flush() }'
}

# lsw_uncompare N FILE: drops the output of FILE's Nth command (a line
# "HOST # ..."), for a line that this libreswan cannot show as the
# original does (the scenario says why)
lsw_uncompare() {
	awk -v n="$1" '/^[a-z]+ # / { c++; print; next } c != n { print }' "$2" > "$2.new"
	mv "$2.new" "$2"
}

# compare HOST: HOST's console against the scenario's expected one
lsw_compare() {
	_exp=$sdir/$1.console.txt
	[ -f "$_exp" ] || return 0
	lsw_view < "$_exp" > "/tmp/lsw/$1.expected"
	lsw_view < "/tmp/lsw/$1.console" > "/tmp/lsw/$1.actual"
	: > /tmp/lsw/rules
	lsw_normalise "/tmp/lsw/$1.expected"
	: > /tmp/lsw/rules
	lsw_normalise "/tmp/lsw/$1.actual"
	if [ -n "${uncompared:-}" ] && [ "$1" = west ]; then
		lsw_uncompare "${uncompared%% *}" "/tmp/lsw/$1.expected"
		lsw_uncompare "${uncompared%% *}" "/tmp/lsw/$1.actual"
		echo "# $scen $1: the output of command ${uncompared%% *} not compared: ${uncompared#* }"
	fi
	_rules=$(awk '$2 != 0 { printf "%s%s=%s", s, $1, $2; s = ", " }' /tmp/lsw/rules)
	_mapped=$(awk '$1 == "espinudp" { print $2 }' /tmp/lsw/rules)
	echo "# $scen $1: $(wc -l < "/tmp/lsw/$1.expected") lines compared; normalised: ${_rules:-none}; espinudp mapped on $_mapped line(s)"
	if diff -u "/tmp/lsw/$1.expected" "/tmp/lsw/$1.actual" > /tmp/lsw/diff; then
		ok "$scen: $1's console as libreswan's expected one"
	else
		not_ok "$scen: $1's console as libreswan's expected one"
		sed 's/^/# /' /tmp/lsw/diff
		for h in $hosts; do lsw_logs "$h"; done
	fi
}

lsw_logs() { # HOST: the end of its console and pluto log, as diagnostics
	tail -n 30 "/tmp/lsw/$1.console" | sed "s/^/# $1 console: /"
	grep -v '^| \|^|$' "/tmp/pluto-$1.log" 2>/dev/null | tail -n 15 | sed "s/^/# $1 pluto: /"
}

# scenario NAME OPEN...: NAME's commands on fresh hosts, OPEN (udp, esp)
# let through the link; then its consoles compared. The files are those of
# lib/libreswan-tcp/NAME, or of lib/libreswan-tcp/$scen_dir when set (one
# directory for the variants of one of this script's own scenarios)
scenario() {
	scen=$1
	shift
	case " ${LSW_SCENARIOS:-$scen} " in *" $scen "*) ;; *) return 1 ;; esac
	# east's listen-tcp=yes connection in libreswan 4 takes IKE over TCP
	# only with enable-tcp, which the scenarios (written for 5) lack
	# lsw_skip=A,B on the kernel command line: make check's time budget
	case " $(sed -n 's/.* lsw_skip=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ') " in
	*" $scen "*)
		skip "$scen" "make check runs it on Debian 12's 6.1 (the module and upstream) and make check-all here too: CI's time budget"
		return 1 ;;
	esac
	_minor=${ls_version#*.}
	_minor=${_minor%%.*}
	case $ls_major.$_minor/$scen in
	5.*/ikev2-tcp-90-reconnect-rst)
		skip "$scen" "libreswan $ls_version: ipsec down (whack --terminate) waits for the Delete exchange, which over the reset stream never ends (pluto in epoll_wait with the request outstanding; TCP is never retransmitted); whack --crash instead brings ESP back 0.7 s later, but over two new streams, with east's old Child SA left, and a pluto dies with SIGSEGV at shutdown (2026-12-07, Debian 13's 6.12)"
		return 1 ;;
	4.[0-3]/ikev2-tcp-09-fail-timeout)
		skip "$scen" "libreswan $ls_version's pluto logs its timeout without the stream's state (\"TCP: socket N timed out before first message received\"), so its log cannot be mapped to 4.4's and later, and logs the EOF that follows the timeout too (2 more lines); west's console and east's counters were as with 4.10 (2026-12-07)"
		return 1 ;;
	4.[0-3]/ikev2-tcp-06-fail-ike-sa-init-invalid-ke)
		skip "$scen" "libreswan $ls_version's pluto dies (SIGSEGV in libevent) as INVALID_KE makes it send IKE_SA_INIT again over TCP, and the scenario's next command waits for it (4.10 and 5.2 pass this scenario)"
		return 1 ;;
	4.[0-7]/ikev2-tcp-27-6in6)
		skip "$scen" "libreswan $ls_version opens its IKE TCP socket as AF_INET whatever the peer's family (fixed in 4.8, commit 926633511c): connect() to the IPv6 peer fails with EAFNOSUPPORT"
		return 1 ;;
	4.[0-3]/ikev2-tcp-05-transport-mode)
		skip "$scen" "libreswan $ls_version sets no bypass policy on its IKE TCP socket (fixed in 4.4, commit 9a69641b34): the transport SA between the same two hosts takes the connection's own segments, which go into the stream as ESP, and IKE stops"
		return 1 ;;
	4.*/ikev2-tcp-01-listen-tcp-yes-udp-*)
		skip "$scen" "libreswan $ls_version: east answers IKE_SA_INIT over TCP with NO_PROPOSAL_CHOSEN (\"no suitable connection found with IKEv2 policy\": its connection has no enable-tcp, which libreswan 5 no longer asks for) and west's ipsec up tcp waits on after the stream's EOF (over 150 s)"
		return 1 ;;
	esac
	sdir=$lsw/${scen_dir:-$scen}
	t0=$(date +%s)
	# a host that runs no pluto in this scenario has no log of the last's
	rm -rf /tmp/lsw /tmp/pluto-*.log
	mkdir -p /tmp/lsw
	# the hosts: those with an expected console, in the order of
	# libreswan's driver (nic, east, then by name)
	hosts=
	for h in nic east north road west; do
		[ ! -f "$sdir/$h.console.txt" ] || hosts="$hosts $h"
	done
	hosts=${hosts# }
	lsw_topo
	[ $# -eq 0 ] || lsw_open "$@"
	for _s in init run; do
		for h in $hosts; do
			[ ! -f "$sdir/$h$_s.sh" ] || lsw_exec "$h" "$sdir/$h$_s.sh"
		done
	done
	# N-HOST-*.sh (N one or more digits), in the order of their names
	for f in "$sdir"/[0-9]*-*.sh; do
		[ -f "$f" ] || continue
		_h=${f##*/}
		_h=${_h#*-}
		lsw_exec "${_h%%-*}" "$f"
	done
	# final.sh on each host but nic, by name (libreswan's expected
	# consoles of nic have none of it)
	if [ -f "$sdir/final.sh" ]; then
		for h in $(echo "$ends" | tr ' ' '\n' | sort); do
			lsw_exec "$h" "$sdir/final.sh"
		done
	fi
	for h in $hosts; do lsw_compare "$h"; done
}

# the module's view of a scenario whose Child SA went over TCP: ESP both
# ways in the stream, IKE received, nothing of it as UDP or ESP on the link
# (module_tcp_checks [INITIATOR RESPONDER], west and east by default)
# module: whether the module is under test (its counters and states to
# check), not upstream's espintcp
module() { [ "$upstream" = 0 ]; }
module_tcp_checks() {
	module || return 0
	check "$scen: ${1:-west} sent and received ESP and IKE in the stream (/proc/net/espintcp)" \
		_positive "${1:-west}" esp_tx_msgs esp_rx_msgs ike_rx_msgs
	check "$scen: ${2:-east} sent and received ESP and IKE in the stream" \
		_positive "${2:-east}" esp_tx_msgs esp_rx_msgs ike_rx_msgs
}
# msgs NS: its IKE and ESP messages through the module, "IKE tx/rx, ESP
# tx/rx", and its TCP states
msgs() {
	echo "IKE $(ctr0 "$1" ike_tx_msgs)/$(ctr0 "$1" ike_rx_msgs)," \
		"ESP $(ctr0 "$1" esp_tx_msgs)/$(ctr0 "$1" esp_rx_msgs)," \
		"$(ctr0 "$1" tcp_states) TCP states"
}
# tcp_peers NS: the TCP states' "src dst sport dport", sorted, on a line
tcp_peers() {
	ip netns exec "$1" cat /proc/net/espintcp_states 2>/dev/null |
		awk '{ print $1, $2, $4, $5 }' | sort | tr '\n' ';' | sed 's/;$//'
}
# conns NS: its established TCP connections, "local peer", on a line
conns() {
	ip netns exec "$1" ss -Htn state established |
		awk '{ print $(NF - 1), $NF }' | sort | tr '\n' ';' | sed 's/;$//'
}
# xfrm_states NS: how many xfrm states NS has
xfrm_states() {
	ip -n "$1" xfrm state | grep -c '^src '
}

# uptime_cs: the guest's uptime in centiseconds (/proc/uptime has two
# decimals): the probes' clock
uptime_cs() {
	read -r _u _ < /proc/uptime
	echo "${_u%.*}${_u#*.}"
}
# encap_ports NS: the encap ports of NS's xfrm states, "SPORT DPORT",
# sorted, on a line: the stream each state's ESP goes into, as ip xfrm
# shows it on both kernels (a TCP state of the module's shows espinudp,
# upstream's espintcp: the ports are the same)
encap_ports() {
	ip -n "$1" xfrm state |
		sed -n 's/^[[:space:]]*encap type [a-z]* sport \([0-9]*\) dport \([0-9]*\).*/\1 \2/p' |
		sort | tr '\n' ';' | sed 's/;$//'
}
# ports_pair P: encap_ports of a Child SA on the stream from west's port P
# to east's 4500 (either host: one state each way)
ports_pair() {
	printf '%s\n' "4500 $1" "$1 4500" | sort | tr '\n' ';' | sed 's/;$//'
}
# west_port: the port of west's connection(s) to east's 4500, a line each
west_port() {
	conns west | tr ';' '\n' |
		sed -n 's/^192\.1\.2\.45:\([0-9]*\) 192\.1\.2\.23:4500$/\1/p'
}
# xfrm_stat NS NAME: a counter of NS's /proc/net/xfrm_stat (0 if absent)
xfrm_stat() {
	_v=$(ip netns exec "$1" awk -v n="$2" '$1 == n { print $2 }' /proc/net/xfrm_stat 2>/dev/null)
	echo "${_v:-0}"
}
# plutos_running NS...: each NS's pluto is still there
plutos_running() {
	for _h in "$@"; do
		kill -0 "$(cat "/run/ls-$_h.pid" 2>/dev/null)" 2>/dev/null || {
			echo "$_h's pluto is gone"
			grep -v '^| \|^|$' "/tmp/pluto-$_h.log" | tail -n 5
			return 1
		}
	done
}
_more() { # DESC NOW BEFORE: NOW > BEFORE
	[ "$2" -gt "$3" ] || { echo "$1: $3 before, $2 now"; return 1; }
}
_within() { # VALUE LOW HIGH (centiseconds)
	[ "$1" -ge "$2" ] && [ "$1" -le "$3" ] ||
		{ echo "$(lsw_secs "$1") s, not in [$(lsw_secs "$2"), $(lsw_secs "$3")] s"; return 1; }
}
_new_port() { # OLD NEW: NEW is a port, not OLD
	[ -n "$2" ] && [ "$2" != "$1" ] ||
		{ echo "west's port: $1 before, '$2' now"; return 1; }
}
_no_conns() { # NS...: no established TCP connection in any
	for _h in "$@"; do [ -z "$(conns "$_h")" ] || return 1; done
}

# The probes: from west's subnet to east's (through the Child SA), one
# busybox ping every 0.2 s, each given 1 s to be answered, each logged in
# /tmp/lsw/probes as "SENT-AT ok|lost" (uptime_cs). A probe is answered
# only by the reply to its own request (busybox's ICMP id is its pid), so
# a late reply to an earlier one, from ESP that waited in the stream, does
# not count.
lsw_probes_start() { # NS SRC DST
	rm -f /tmp/lsw/probes.stop
	: > /tmp/lsw/probes
	(
		while [ ! -e /tmp/lsw/probes.stop ]; do
			_s=$(uptime_cs)
			{
				if ip netns exec "$1" ping -c 1 -w 1 -W 1 -I "$2" "$3" \
						> /dev/null 2>&1; then
					echo "$_s ok"
				else
					echo "$_s lost"
				fi >> /tmp/lsw/probes
			} &
			sleep 0.2
		done
		wait
	) &
	lsw_probes_pid=$!
}
lsw_probes_stop() {
	touch /tmp/lsw/probes.stop
	wait "$lsw_probes_pid" 2>/dev/null || true
}
# lsw_first_ok T: when the first answered probe sent at or after T was
# sent (centiseconds); nothing if none was
lsw_first_ok() {
	awk -v t="$1" '$2 == "ok" && $1 + 0 >= t + 0 && (f == "" || $1 + 0 < f) { f = $1 + 0 }
		END { if (f != "") print f }' /tmp/lsw/probes
}
# lsw_count RESULT FROM [TO]: probes sent in [FROM, TO) with RESULT
lsw_count() {
	awk -v r="$1" -v a="$2" -v b="${3:-}" '$2 == r && $1 + 0 >= a + 0 &&
		(b == "" || $1 + 0 < b + 0) { n++ } END { print n + 0 }' /tmp/lsw/probes
}
# lsw_wait_ok T S: until a probe sent at or after T has been answered; up
# to S seconds
lsw_wait_ok() {
	_k=$(($2 * 10))
	while [ "$_k" -gt 0 ]; do
		[ -z "$(lsw_first_ok "$1")" ] || return 0
		sleep 0.1
		_k=$((_k - 1))
	done
	return 1
}
lsw_secs() { awk -v c="$1" 'BEGIN { printf "%.1f", c / 100 }'; }
# lsw_baseline T: "ok" if the probes sent up to 1 s before T were all
# answered, and at least 3 were
lsw_baseline() {
	_a=$(lsw_count ok 0 $(($1 - 100)))
	_l=$(lsw_count lost 0 $(($1 - 100)))
	if [ "$_a" -ge 3 ] && [ "$_l" = 0 ]; then echo ok; else echo "$_a answered, $_l lost"; fi
}
# checks of a stream after the break: exactly one connection each, west's
# from port P, the xfrm states (and the module's TCP states) on it
reconnect_stream_checks() { # P WHAT
	check_eq "$scen: one connection each, $2 (west, east)" \
		"192.1.2.45:$1 192.1.2.23:4500|192.1.2.23:4500 192.1.2.45:$1" \
		"$(conns west)|$(conns east)"
	# polled: INITIAL_CONTACT's deletion of east's old Child SA is an
	# event of east's pluto, after its IKE_AUTH answer
	check_poll "$scen: the xfrm states' encap ports name $2, and no other state is left (west, east)" \
		"$(ports_pair "$1") $(ports_pair "$1")" _encap_both
	module && for _h in west east; do
		check_eq "$scen: $_h's TCP states are of $2 (/proc/net/espintcp_states)" \
			"192.1.2.23 192.1.2.45 4500 $1;192.1.2.45 192.1.2.23 $1 4500" \
			"$(tcp_peers "$_h")"
	done
}
_encap_both() { echo "$(encap_ports west) $(encap_ports east)"; }

ctr0() { # NS NAME: the counter, 0 while the module is not loaded
	_v=$(ctr "$@" 2>/dev/null)
	echo "${_v:-0}"
}
_positive() { # NS COUNTER...
	_ns=$1
	shift
	for c in "$@"; do
		_v=$(ctr "$_ns" "$c")
		[ "${_v:-0}" -gt 0 ] || { echo "$c is ${_v:-absent}"; return 1; }
	done
}
check_leaked() { # FILTER-NUMBERS DESC
	_n=0
	for f in $1; do _n=$((_n + $(lsw_dropped "$f"))); done
	check_eq "$scen: $2" 0 "$_n"
}
scenario_end() {
	[ -n "${LSW_DEBUG:-}" ] && for h in $hosts; do lsw_logs "$h"; done
	lsw_topo_down
	echo "# $scen: $(($(date +%s) - t0)) s; commands of 2 s or more:"
	awk '$1 >= 2' /tmp/lsw/times | sed 's/^/#   /'
}

modprobe xfrm_user
modprobe bridge 2>/dev/null || true	# nic's 192.1.2.0/24
[ ! -d /sys/module/espintcp ] || rmmod_wait

# 1. enable-tcp=yes: IKE and ESP over TCP, UDP blocked
if scenario ikev2-tcp-00-enable-tcp-yes; then
	module_tcp_checks
	check_leaked "1 2 3 4" "no UDP or ESP left either host (the link's drop filters)"
	scenario_end
fi

# enable-tcp=no and the default: UDP only, east drops it; no TCP at all
for s in no default; do
	scenario "ikev2-tcp-00-enable-tcp-$s" udp || continue
	check_eq "$scen: no TCP states, no IKE over TCP (west)" "0 0" \
		"$(ctr0 west tcp_states) $(ctr0 west ike_tx_msgs)"
	check_leaked "2 4" "no ESP left either host"
	scenario_end
done

# enable-tcp=fallback: UDP fails, the next attempt goes over TCP.
# libreswan 4 has no trigger_revival: its next attempt, over TCP, starts
# as the first one times out, so the first trafficstatus may show it
[ "$ls_major" -ge 5 ] || uncompared="3 libreswan $ls_version starts the TCP attempt at once, without trigger_revival"
if scenario ikev2-tcp-00-enable-tcp-fallback udp; then
	module_tcp_checks
	check_leaked "2 4" "no ESP left either host"
	check_eq "$scen: no UDP to port 4500 reached east (its drop rule)" 0 \
		"$(ip netns exec east nft list chain ip filter INPUT | sed -n 's/.*dport 4500 counter packets \([0-9]*\).*/\1/p')"
	scenario_end
fi
uncompared=

# 2. transport mode, rekeys, IPv6
for s in 05-transport-mode 10-rekey-child 10-rekey-ike 27-6in6; do
	scenario "ikev2-tcp-$s" || continue
	module_tcp_checks
	check_leaked "1 2 3 4" "no UDP or ESP left either host"
	scenario_end
done

# 3. listen-tcp / listen-udp: which of a TCP and a UDP connection comes up
for s in default tcp-no-udp-no tcp-no-udp-yes tcp-yes-udp-no tcp-yes-udp-yes; do
	scenario "ikev2-tcp-01-listen-$s" udp esp || continue
	scenario_end
done

# 4. streams that end early: pluto (and the module, once pluto set the
# ULP after the prefix) see EOF and close; no connection is left
if scenario ikev2-tcp-08-fail-eof; then
	check_eq "$scen: no TCP connection left on east" 0 \
		"$(ip netns exec east ss -Htn state established | grep -c .)"
	scenario_end
fi
# 4b. streams that stop early and stay open (ncat holds each 10 s): pluto
# gives up on each 5 s after the accept, or on the error or message that
# the module delivers once pluto has set the ULP (after the prefix): a
# length of 0 is EINVAL and a reset; 2 and 6 are messages of 0 and 4
# bytes, dropped; 7 is 5 bytes (a mangled IKE header), 0x22 an IKE
# header that pluto answers (its answer in west's hexdump, as the module
# framed it); 0xff and 0xffff are never whole
if scenario ikev2-tcp-09-fail-timeout; then
	check_eq "$scen: no TCP connection left on east" 0 \
		"$(ip netns exec east ss -Htn state established | grep -c .)"
	module && check_eq "$scen: east's module: IKE in 2, out 1; 2 short messages dropped; 1 stream error (ike_rx_msgs, ike_tx_msgs, rx_drop_short, rx_stream_errors)" \
		"2 1 2 1" "$(ctr0 east ike_rx_msgs) $(ctr0 east ike_tx_msgs) $(ctr0 east rx_drop_short) $(ctr0 east rx_stream_errors)"
	scenario_end
fi

# 5. IKE_SA_INIT answered with a COOKIE (east's ddos-mode=busy) or with
# INVALID_KE (east wants MODP2048): west sends IKE_SA_INIT again in the
# same stream, then IKE_AUTH; one ping crosses: IKE 3/3, ESP 1/1
for s in cookie invalid-ke; do
	scenario "ikev2-tcp-06-fail-ike-sa-init-$s" || continue
	module_tcp_checks
	module && check_eq "$scen: west's messages through the module (IKE_SA_INIT twice, IKE_AUTH; one ping)" \
		"IKE 3/3, ESP 1/1, 2 TCP states" "$(msgs west)"
	module && check_eq "$scen: east's messages through the module" \
		"IKE 3/3, ESP 1/1, 2 TCP states" "$(msgs east)"
	check_leaked "1 2 3 4" "no UDP or ESP left either host"
	scenario_end
done

# 6. REDIRECT, in IKE_SA_INIT (east's global-redirect) or in IKE_AUTH
# (east's send-redirect): west's TCP connection to east goes, and the
# Child SA is with north (192.1.3.33, behind nic) over a new one
for s in 06-fail-ike-sa-init-redirect 07-fail-ike-auth-redirect; do
	scenario "ikev2-tcp-$s" || continue
	module_tcp_checks west north
	# libreswan 5.2 leaves west's stream to east open after the
	# IKE_AUTH redirect (no TCP state on it; 4.10 closes it; why is not
	# known yet): that one is expected too, exactly
	_east=0
	[ "$s" != 07-fail-ike-auth-redirect ] || [ "$ls_major" -lt 5 ] || _east=1
	_c=$(conns west | tr ';' '\n' | grep ' 192.1.3.33:4500$')
	_p=${_c%% *}
	_p=${_p##*:}
	check_eq "$scen: west's TCP connections: one to north, $_east to east" \
		"1 $_east" "$(conns west | tr ';' '\n' | grep -c ' 192.1.3.33:4500$') $(conns west | tr ';' '\n' | grep -c ' 192.1.2.23:4500$')"
	module && for h in west north; do
		check_eq "$scen: $h's TCP states are of that connection (/proc/net/espintcp_states)" \
			"192.1.2.45 192.1.3.33 $_p 4500;192.1.3.33 192.1.2.45 4500 $_p" "$(tcp_peers "$h")"
	done
	check_eq "$scen: east has $_east TCP connection, no TCP state or xfrm state left" \
		"$_east 0 0" "$(conns east | tr ';' '\n' | grep -c .) $(ctr0 east tcp_states) $(xfrm_states east)"
	module && check_eq "$scen: east sent no ESP through the module" 0 "$(ctr0 east esp_tx_msgs)"
	check_leaked "1 2 3 4" "no UDP or ESP left west, east or north"
	scenario_end
done

# 7. IKE_AUTH cannot start: west (rsa-sha2) will not authenticate with
# RSA-SHA1, all east (rsa-sha1) offers; west gives up in the stream, both
# plutos shut down, and nothing of the connection remains
if scenario ikev2-tcp-07-fail-ike-auth-authentication; then
	_l='legacy RSA-SHA1 is not allowed but peer supports nothing else'
	check_eq "$scen: west's pluto refused RSA-SHA1 (its log)" 1 \
		"$(grep -v '^|' /tmp/pluto-west.log | grep -c "^\"west\" #1: $_l\$")"
	module && check "$scen: IKE_SA_INIT went over TCP through the module both ways" \
		_positive west ike_tx_msgs ike_rx_msgs
	module && check_eq "$scen: no ESP through the module (west, east)" "0 0 0 0" \
		"$(ctr0 west esp_tx_msgs) $(ctr0 west esp_rx_msgs) $(ctr0 east esp_tx_msgs) $(ctr0 east esp_rx_msgs)"
	check_eq "$scen: no TCP connection, TCP state or xfrm state left (west, east)" "0 0 0 0 0 0" \
		"$(conns west | grep -c .) $(ctr0 west tcp_states) $(xfrm_states west) $(conns east | grep -c .) $(ctr0 east tcp_states) $(xfrm_states east)"
	check_leaked "1 2 3 4" "no UDP or ESP left either host"
	scenario_end
fi

# 8. road behind nic, which SNATs it to 192.1.2.254 and drops ESP: east's
# TCP states are with nic's address and port, road's with its own
if scenario ikev2-tcp-25-rw-nat; then
	module_tcp_checks road east
	_c=$(conns east)
	_p=${_c##*:}
	check_eq "$scen: east's TCP connection is from nic's address" \
		"192.1.2.23:4500 192.1.2.254:$_p" "$_c"
	module && check_eq "$scen: east's TCP states are with nic's address and port (/proc/net/espintcp_states)" \
		"192.1.2.23 192.1.2.254 4500 $_p;192.1.2.254 192.1.2.23 $_p 4500" "$(tcp_peers east)"
	_c=$(conns road)
	_q=${_c%% *}
	_q=${_q##*:}
	module && check_eq "$scen: road's TCP states are with its own address and port" \
		"192.1.2.23 192.1.3.209 4500 $_q;192.1.3.209 192.1.2.23 $_q 4500" "$(tcp_peers road)"
	check_eq "$scen: no ESP reached nic's forwarding (its drop rule's counter)" 0 \
		"$(ip netns exec nic nft list chain ip filter FORWARD | sed -n 's/.*l4proto esp counter packets \([0-9]*\).*/\1/p')"
	check_leaked "1 2 3 4" "no UDP or ESP left road or east"
	scenario_end
fi

# 9. auto=ondemand: a ping's acquire starts IKE over TCP (the ping itself
# is dropped), the next ping crosses: IKE 2/2, ESP 1/1. Before 5.1 pluto
# connect()s its TCP socket (blocking) before it pokes the socket's
# policy hole (libreswan commit 550232aee0): the SYN to east is caught by
# the ondemand policy itself, which covers 192.1.2.45 <-> 192.1.2.23, and
# pluto hangs in connect() with the acquire unserved, whack with it
_minor=${ls_version#*.}
_minor=${_minor%%.*}
if [ "$ls_major" -lt 5 ] || { [ "$ls_major" -eq 5 ] && [ "$_minor" -lt 1 ]; }; then
	skip "ikev2-tcp-28-ondemand" "libreswan $ls_version connect()s its IKE TCP socket before poking its policy hole (fixed in 5.1, commit 550232aee0): the ondemand policy catches the SYN and pluto blocks in connect()"
elif scenario ikev2-tcp-28-ondemand; then
	module_tcp_checks
	module && check_eq "$scen: west's messages through the module (IKE_SA_INIT, IKE_AUTH; one ping)" \
		"IKE 2/2, ESP 1/1, 2 TCP states" "$(msgs west)"
	module && check_eq "$scen: east's messages through the module" \
		"IKE 2/2, ESP 1/1, 2 TCP states" "$(msgs east)"
	check_leaked "1 2 3 4" "no UDP or ESP left either host"
	scenario_end
fi


# 10. The stream breaks under a Child SA that carries pings (RFC 9329's
# connection loss, which the initiator is to repair by connecting again):
# (rst) ss -K on west kills pluto's socket
# and sends east a RST; (blackhole) west's link drops every segment from
# or to TCP port 4500 for 5 s, then lets them through again. ikev2-tcp-90-
# reconnect is ikev2-tcp-00-enable-tcp-yes with liveness (dpddelay=2s;
# retransmit-timeout stays 10 s) and INITIAL_CONTACT on west (README there).
# The outage is measured with probes (lsw_probes_start): from the break to
# the first answered probe sent after it.
#
# What libreswan does (4.3 to 5.2, from its sources): nothing, on a reset.
# Reading the stream's error or EOF only stops reading it (iface_tcp.c);
# the IKE SA stays established on the dead socket, and no exchange over TCP
# ever times out (retransmit() returns RETRANSMIT_NO for TCP and schedules
# nothing more), so liveness, which over UDP finds the peer gone after
# dpddelay + retransmit-timeout and revives the connection, waits forever.
# A new stream comes only with a new IKE SA: here the operator's ipsec
# down + ipsec up on west, timed separately (libreswan 4; in 5, ipsec down
# waits for a Delete exchange that the dead stream never carries: the
# skip in scenario() says what whack --crash does there instead). Nor do the kernels follow a
# new stream by themselves: ESP goes into the connection named by the
# state's encap ports (the module's espintcp_state_sk, upstream's
# esp_find_tcp_sk), and pluto updates no state (it listens to no
# XFRM_MSG_MAPPING); the new Child SA's states name the new stream.
# Over a black hole TCP itself recovers the same stream after the link
# is back, at its next (backed-off) retransmission: the same connection,
# the same states, nothing from pluto.
# Should pluto ever reconnect by itself (a libreswan that implements RFC
# 9329's reconnect), the rst variant says after how long and checks the
# new stream as it does after down/up.
reconnect_rst() {
	_rc_p0=$(west_port)
	if [ -z "$_rc_p0" ]; then
		not_ok "$scen: west has a stream to east before the reset"
		return
	fi
	_rc_nosock=$(ctr0 west tx_drop_nosock)
	_rc_perr=$(xfrm_stat west XfrmOutStateProtoError)
	lsw_probes_start west 192.0.1.254 192.0.2.254
	sleep 2
	ip netns exec west ss -HK -tn dst 192.1.2.23 dport = :4500 > /dev/null 2>&1
	# the reset's time is once ss -K is done: a probe stamped before
	# (the stamp precedes ping's start) may still cross the old stream
	_rc_t0=$(uptime_cs)
	check_eq "$scen: the probes were answered before the reset" ok "$(lsw_baseline "$_rc_t0")"
	if ! poll_until _no_conns west east; then
		lsw_probes_stop
		not_ok "$scen: ss -K reset west's stream, and east took the RST (neither has a connection)"
		echo "# west: $(conns west); east: $(conns east) (a kernel without CONFIG_INET_DIAG_DESTROY has no SOCK_DESTROY for ss -K)"
		return
	fi
	ok "$scen: ss -K reset west's stream, and east took the RST (neither has a connection)"

	# what pluto does by itself, for longer than liveness over UDP would
	# take to find east gone and revive the connection (2 + 10 s)
	_rc_w=15
	if lsw_wait_ok "$_rc_t0" "$_rc_w"; then
		_rc_first=$(lsw_first_ok "$_rc_t0")
		echo "# $scen: libreswan $ls_version re-established the stream by itself: ESP back $(lsw_secs $((_rc_first - _rc_t0))) s after the reset"
	else
		echo "# $scen: libreswan $ls_version did not re-establish the stream by itself in $_rc_w s (no exchange over TCP times out): outage $_rc_w s and counting"
		check_eq "$scen: meanwhile no connection (west|east), and the xfrm states still name the reset stream" \
			"||$(ports_pair "$_rc_p0") $(ports_pair "$_rc_p0")" \
			"$(conns west)|$(conns east)|$(_encap_both)"
		module && check "$scen: west dropped the probes' ESP for want of a connection, and counted it (tx_drop_nosock)" \
			_more tx_drop_nosock "$(ctr0 west tx_drop_nosock)" "$_rc_nosock"
		module || check "$scen: west's xfrm dropped the probes' ESP (XfrmOutStateProtoError: esp_find_tcp_sk found no connection)" \
			_more XfrmOutStateProtoError "$(xfrm_stat west XfrmOutStateProtoError)" "$_rc_perr"
		check_leaked "1 2 3 4" "none of it left as UDP or ESP (the link's drop filters)"
		check "$scen: both plutos still run (west's liveness probe met the dead stream)" \
			plutos_running west east
		# the recovery libreswan has: a new IKE SA, by hand
		_rc_t1=$(uptime_cs)
		w west --name west --terminate > /tmp/lsw/west.down 2>&1
		w west --name west --initiate > /tmp/lsw/west.up 2>&1
		if ! lsw_wait_ok "$_rc_t1" 10; then
			lsw_probes_stop
			not_ok "$scen: ESP in a new stream within 10 s of ipsec down + ipsec up on west"
			sed 's/^/# west: /' /tmp/lsw/west.down /tmp/lsw/west.up
			lsw_logs west
			lsw_logs east
			return
		fi
		_rc_first=$(lsw_first_ok "$_rc_t1")
		ok "$scen: ESP in a new stream within 10 s of ipsec down + ipsec up on west"
		echo "# $scen: ESP back $(lsw_secs $((_rc_first - _rc_t1))) s after ipsec down + up ($(lsw_secs $((_rc_first - _rc_t0))) s after the reset)"
	fi
	sleep 2
	lsw_probes_stop
	check_eq "$scen: every probe from 1 s after the first answered one on was answered" \
		0 "$(lsw_count lost $((_rc_first + 100)))"
	_rc_p1=$(west_port | head -n 1)
	check "$scen: west's stream is a new one (another port)" \
		_new_port "$_rc_p0" "$_rc_p1"
	reconnect_stream_checks "${_rc_p1:-none}" "the new stream"
	check "$scen: both plutos still run" plutos_running west east
	check_leaked "1 2 3 4" "no UDP or ESP left either host"
	grep -h 'EXPECTATION FAILED\|ASSERTION FAILED' /tmp/pluto-west.log /tmp/pluto-east.log |
		sed 's/^/# pluto: /'
}

reconnect_blackhole() {
	_rc_n=5
	_rc_p0=$(west_port)
	if [ -z "$_rc_p0" ]; then
		not_ok "$scen: west has a stream to east before the black hole"
		return
	fi
	_rc_conns="$(conns west)|$(conns east)"
	_rc_tcp="$(tcp_peers west)|$(tcp_peers east)"
	_rc_nosock=$(ctr0 west tx_drop_nosock)
	lsw_probes_start west 192.0.1.254 192.0.2.254
	sleep 2
	# filters 6 (ingress) and 16 (egress) of netns.sh's numbering
	_drop west egress ip 6 "match ip protocol 6 0xff match ip dport 4500 0xffff"
	_drop west ingress ip 6 "match ip protocol 6 0xff match ip sport 4500 0xffff"
	_rc_t0=$(uptime_cs)
	check_eq "$scen: the probes were answered before the black hole" ok "$(lsw_baseline "$_rc_t0")"
	sleep "$_rc_n"
	_rc_e=$(tc_dropped west egress 6)
	_rc_i=$(tc_dropped west ingress 6)
	_rc_dropped=$((${_rc_e:-0} + ${_rc_i:-0}))
	topo_undrop west egress 6
	topo_undrop west ingress 6
	_rc_t1=$(uptime_cs)
	check "$scen: the link dropped the stream's segments for $_rc_n s (its filters' counters)" \
		test "$_rc_dropped" -gt 0
	if ! lsw_wait_ok "$_rc_t0" $((2 * _rc_n + 5)); then
		lsw_probes_stop
		not_ok "$scen: ESP back within $((2 * _rc_n + 5)) s of the black hole's start"
		lsw_logs west
		lsw_logs east
		return
	fi
	_rc_first=$(lsw_first_ok "$_rc_t0")
	echo "# $scen: outage $(lsw_secs $((_rc_first - _rc_t0))) s (the link back after $(lsw_secs $((_rc_t1 - _rc_t0))) s, ESP $(lsw_secs $((_rc_first - _rc_t1))) s later)"
	sleep 2
	lsw_probes_stop
	# TCP's retransmission timer, doubled on each loss from about 0.2 s,
	# fires after the link is back at most about as long after the first
	# loss as the black hole lasted: a probe is answered by 2N + 2 s. One
	# sent up to 1 s before the link is back can be answered.
	check "$scen: ESP back $((_rc_n - 1)) to $((2 * _rc_n + 2)) s after the black hole's start" \
		_within $((_rc_first - _rc_t0)) $((_rc_n * 100 - 100)) $((_rc_n * 200 + 200))
	check_eq "$scen: every probe from 1 s after the first answered one on was answered" \
		0 "$(lsw_count lost $((_rc_first + 100)))"
	check_eq "$scen: the same connection on both hosts (TCP recovered the stream)" \
		"$_rc_conns" "$(conns west)|$(conns east)"
	reconnect_stream_checks "$_rc_p0" "the same stream"
	module && check_eq "$scen: the TCP states unchanged (west|east)" \
		"$_rc_tcp" "$(tcp_peers west)|$(tcp_peers east)"
	module && check_eq "$scen: west's ESP always had its connection (tx_drop_nosock unchanged)" \
		"$_rc_nosock" "$(ctr0 west tx_drop_nosock)"
	module && echo "# $scen: west's ESP dropped while TCP held it back: $(ctr0 west tx_drop_queue_full)"
	check "$scen: both plutos still run" plutos_running west east
	check_leaked "1 2 3 4" "no UDP or ESP left either host"
}

scen_dir=ikev2-tcp-90-reconnect
for v in rst blackhole; do
	scenario "ikev2-tcp-90-reconnect-$v" || continue
	module_tcp_checks
	"reconnect_$v"
	scenario_end
done
scen_dir=

echo "# 51-libreswan-tcp.sh: $(($(date +%s) - start)) s"
# the module is loaded once some scenario used TCP
! module || [ ! -d /sys/module/espintcp ] ||
	check "module released after libreswan: rmmod" rmmod_wait
