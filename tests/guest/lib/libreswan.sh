# Debian's libreswan in the guest, one pluto per network namespace
# (sourced after netns.sh by 51-libreswan-tcp.sh): each namespace NS has
# its own configuration /etc/ls-NS/ipsec.conf, secrets, NSS database
# /etc/ls-NS/nss and run directory /run/ls-NS (control socket, pid).
# pluto, whack, addconn and certutil are in /usr/libexec/ipsec
# (tests/qemu/mkinitramfs.sh).
# shellcheck shell=sh

ls_dir=/usr/libexec/ipsec

# ls_init: 0 if pluto is there and says its version; sets ls_version
# (4.10, 5.2, ...) and ls_major; prints which libreswan this is
ls_init() {
	[ -x "$ls_dir/pluto" ] || return 1
	PATH=$PATH:$ls_dir
	ls_version=$(pluto --version 2>&1 | sed -n '1s/^Libreswan \([0-9][0-9.]*\).*/\1/p')
	[ -n "$ls_version" ] || return 1
	# shellcheck disable=SC2034 # for the scripts that source this
	ls_major=${ls_version%%.*}
	echo "# libreswan $ls_version$(cut -d' ' -f1 /opt/libreswan/sysroot 2>/dev/null | sed 's/^/ of /')"
}

# ls_prep NS: an empty configuration directory, NSS database and run
# directory for NS
ls_prep() {
	rm -rf "/etc/ls-$1" "/run/ls-$1"
	mkdir -p "/etc/ls-$1/nss" "/run/ls-$1"
	certutil -N -d "sql:/etc/ls-$1/nss" --empty-password < /dev/null
}

# pluto_spawn NS: pluto in NS on NS's files, in the background, its log in
# /tmp/pluto-NS.log (unless the configuration names a logfile). SIGPIPE
# ignored, as systemd starts Debian's ipsec.service (IgnoreSIGPIPE=
# defaults to yes): pluto write()s IKE into its TCP streams without
# MSG_NOSIGNAL, and its first write into a stream that was reset would
# kill it (TCP, the module and upstream's espintcp all raise SIGPIPE).
# The subshell execs ip, which execs pluto: $! is pluto's pid.
pluto_spawn() {
	(
		trap '' PIPE
		exec ip netns exec "$1" pluto --config "/etc/ls-$1/ipsec.conf" --nofork \
			--rundir "/run/ls-$1" --nssdir "/etc/ls-$1/nss" \
			--secretsfile "/etc/ls-$1/ipsec.secrets" --ipsecdir "/etc/ls-$1" \
			--dumpdir "/run/ls-$1" --stderrlog --no-dnssec
	) > "/tmp/pluto-$1.log" 2>&1 &
	echo $! > "/run/ls-$1.pid"
}

# pluto_wait NS: until pluto in NS answers whack (its event loop runs,
# its interfaces are found); up to 20 s
pluto_wait() {
	for _i in $(seq 200); do
		[ -S "/run/ls-$1/pluto.ctl" ] && w "$1" --status > /dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

w() { # NS WHACK-ARGS...
	_ns=$1
	shift
	ip netns exec "$_ns" whack --rundir "/run/ls-$_ns" "$@"
}

# pluto_stop NS: whack --shutdown, then SIGKILL after 10 s (says so)
pluto_stop() {
	[ -f "/run/ls-$1.pid" ] || return 0
	_pid=$(cat "/run/ls-$1.pid")
	rm -f "/run/ls-$1.pid"
	w "$1" --shutdown > /dev/null 2>&1
	for _i in $(seq 100); do
		kill -0 "$_pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "# pluto in $1 did not exit on whack --shutdown: killed"
	kill -9 "$_pid" 2>/dev/null
	return 1
}
