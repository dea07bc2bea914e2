// SPDX-License-Identifier: GPL-2.0
/*
 * main() of the C suites (ulp_test, esp_stream_test): each test of the
 * suite's tests[] once per family, one TAP line each; see harness.h.
 */
#include "harness.h"

int main(int argc, char **argv)
{
	static const int families[] = { AF_INET, AF_INET6 };
	const char *only = argc > 1 ? argv[1] : NULL;
	unsigned int t, f;
	int nfail = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (!netns_open())
		return 1;

	for (t = 0; t < n_tests; t++) {
		for (f = 0; f < 2; f++) {
			const char *fam = families[f] == AF_INET ? "IPv4" : "IPv6";

			if (f && tests[t].once)
				continue;
			if (only && !strstr(tests[t].name, only))
				continue;
			failed = false;
			skip_reason = NULL;
			tests[t].fn(families[f]);
			/* a skip never hides a check that failed before it */
			if (skip_reason && !failed)
				printf("ok - %s [%s] # SKIP %s\n", tests[t].name,
				       fam, skip_reason);
			else
				printf("%sok - %s [%s]\n", failed ? "not " : "",
				       tests[t].name, fam);
			nfail += failed;
		}
	}
	return nfail ? 1 : 0;
}
