ipsec down westnet-eastnet-route
ipsec _kernel state
ipsec _kernel policy
