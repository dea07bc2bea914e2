ipsec whack --shutdown
