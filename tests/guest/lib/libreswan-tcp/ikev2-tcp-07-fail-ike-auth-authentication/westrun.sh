# expected to fail
ipsec up west

