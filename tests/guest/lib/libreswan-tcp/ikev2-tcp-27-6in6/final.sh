ipsec whack --trafficstatus
