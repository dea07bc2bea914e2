/testing/guestbin/swan-prep --nokeys
