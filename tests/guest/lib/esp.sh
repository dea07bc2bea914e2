# ESP-over-TCP helpers for the guest scripts (sourced after netns.sh):
# states and policies in netns cli and srv, ike_pair connections,
# the module's counters. REQID (default 1) tags the states and policies.
# shellcheck shell=sh disable=SC2086

KEY=0x0102030405060708090a0b0c0d0e0f1011121314
AEAD="aead rfc4106(gcm(aes)) $KEY 128"
peer_in=/tmp/peer.in
peer_out=/tmp/peer.out

ctr() { # NS NAME
	ip netns exec "$1" awk -v k="$2" '$1 == k { print $2 }' /proc/net/espintcp
}
leaked() { # packets the UDP/ESP drop filters stopped on egress, both ends
	_n=0
	for ns in cli srv; do
		for f in 1 2 3 4; do
			_n=$((_n + $(tc_dropped "$ns" egress "$f")))
		done
	done
	echo "$_n"
}

# peer_start FAMILY CPORT SPORT: an espintcp connection, held open
peer_start() {
	rm -f "$peer_in" "$peer_out"
	mkfifo "$peer_in"
	/tests/bin/ike_pair "$@" < "$peer_in" > "$peer_out" 2>&1 &
	exec 3> "$peer_in"
	for _i in $(seq 50); do
		grep -q ready "$peer_out" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$peer_out"
	return 1
}
peer_stop() {
	exec 3>&-
	wait
}

# sa NS MODE FAMILY SRC DST SPI SPORT DPORT [MORE...]: a state with encap
# $ENCAP (default espintcp) on those ports, MORE (mark, flag) appended to
# `ip xfrm state add`. The C suites call it too (esp_stream_test.c).
sa() {
	_ns=$1 _mode=$2 _src=$4 _dst=$5 _spi=$6 _sport=$7 _dport=$8
	shift 8
	ip -n "$_ns" xfrm state add src "$_src" dst "$_dst" proto esp \
		spi "$_spi" reqid "${REQID:-1}" mode "$_mode" $AEAD \
		encap "${ENCAP:-espintcp}" "$_sport" "$_dport" 0.0.0.0 "$@"
}

# policy NS DIR MODE SRC DST OUTER_SRC OUTER_DST [SELECTOR...]
policy() {
	_ns=$1 _dir=$2 _mode=$3 _src=$4 _dst=$5 _osrc=$6 _odst=$7
	shift 7
	ip -n "$_ns" xfrm policy add src "$_src" dst "$_dst" "$@" dir "$_dir" \
		tmpl src "$_osrc" dst "$_odst" proto esp reqid "${REQID:-1}" \
		mode "$_mode"
}

# policies NS MODE LOCAL REMOTE OUTER_LOCAL OUTER_REMOTE [SELECTOR...]:
# out and in
policies() {
	_pns=$1 _pmode=$2 _l=$3 _r=$4 _ol=$5 _or=$6
	shift 6
	policy "$_pns" out "$_pmode" "$_l" "$_r" "$_ol" "$_or" "$@"
	policy "$_pns" in "$_pmode" "$_r" "$_l" "$_or" "$_ol" "$@"
}

# sa_pair MODE FAMILY CADDR SADDR SPI_CS SPI_SC CPORT SPORT: both
# directions' TCP states, in both namespaces
sa_pair() {
	for ns in cli srv; do
		sa "$ns" "$1" "$2" "$3" "$4" "$5" "$7" "$8"
		sa "$ns" "$1" "$2" "$4" "$3" "$6" "$8" "$7"
	done
}

# policy_pair MODE C S OUTER_C OUTER_S [SELECTOR...]: cli's and srv's
policy_pair() {
	_m=$1 _c=$2 _s=$3 _oc=$4 _os=$5
	shift 5
	policies cli "$_m" "$_c" "$_s" "$_oc" "$_os" "$@"
	policies srv "$_m" "$_s" "$_c" "$_os" "$_oc" "$@"
}

# esp_delta FROM TO TX0 RX0: "SENT RECEIVED", the ESP frames FROM sent and
# TO received since their counters read TX0 and RX0
esp_delta() {
	echo "$(($(ctr "$1" esp_tx_msgs) - $3)) $(($(ctr "$2" esp_rx_msgs) - $4))"
}

# xfrm_flush: every policy and state of cli and srv; fails if one flush did
xfrm_flush() {
	_rc=0
	for ns in cli srv; do
		ip -n "$ns" xfrm policy flush || _rc=1
		ip -n "$ns" xfrm state flush || _rc=1
	done
	return "$_rc"
}


# transfer_start DST BYTES: BYTES random bytes from cli to srv's nc on
# DST:5001, in the background; transfer_wait waits for it to end, and
# transfer_intact then says whether srv received exactly what cli sent.
transfer_start() {
	head -c "$2" /dev/urandom > /tmp/blob
	# the listener quits when its stdin ends: hold it open
	rm -f /tmp/hold
	mkfifo /tmp/hold
	srv sh -c "timeout 240 nc -l -p 5001 < /tmp/hold > /tmp/blob.tcp" &
	_listener=$!
	exec 4> /tmp/hold
	wait_listen srv 5001 || echo "# transfer_start: nothing listens on srv:5001"
	cli timeout 240 nc "$1" 5001 < /tmp/blob > /dev/null 2>&1 &
	_sender=$!
}
transfer_wait() {
	wait "$_sender" || true
	exec 4>&-
	wait "$_listener" || true
}
transfer_intact() {
	[ "$(md5sum < /tmp/blob)" = "$(md5sum < /tmp/blob.tcp)" ] && return 0
	echo "sent $(wc -c < /tmp/blob) bytes, received $(wc -c < /tmp/blob.tcp), contents differ or short"
	return 1
}

# pcrypt_on: pcrypt in front of rfc4106(gcm(aes)) at the highest priority,
# so that every ESP request of new states completes asynchronously, on
# another CPU (TAP lines); sets pcrypt_drv. pcrypt_off removes it once the
# states that use it are gone (xfrm's GC).
pcrypt_on() {
	modprobe crypto_user
	modprobe pcrypt
	# asked by name, the kernel answers ENOENT even as it makes the instance
	/tests/bin/crypto_alg add 'pcrypt(rfc4106(gcm(aes)))' >/dev/null 2>&1 || true
	pcrypt_drv=$(awk '$1 == "driver" && $3 ~ /^pcrypt\(/ { print $3; exit }' /proc/crypto)
	check "pcrypt instantiated for rfc4106(gcm(aes)) (${pcrypt_drv:-none})" \
		test -n "$pcrypt_drv"
	check_eq "pcrypt given the highest priority" ok \
		"$(/tests/bin/crypto_alg prio "$pcrypt_drv" 1000 2>&1)"
	_top=$(awk '$1 == "name" { n = $3 } $1 == "driver" { d = $3 }
		$1 == "priority" && n == "rfc4106(gcm(aes))" && $3 > p { p = $3; t = d }
		END { print t }' /proc/crypto)
	check_eq "new rfc4106(gcm(aes)) states get pcrypt" "$pcrypt_drv" "$_top"
}
_pcrypt_del() { /tests/bin/crypto_alg del "$pcrypt_drv"; }
pcrypt_off() {
	check_poll "pcrypt removed again" ok _pcrypt_del
}
