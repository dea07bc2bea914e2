ipsec _kernel state
ipsec _kernel policy
