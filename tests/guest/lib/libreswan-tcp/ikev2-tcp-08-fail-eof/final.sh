ipsec _kernel state
ipsec _kernel policy
grep '^connection from' /tmp/pluto.log
