/*++
 * NAME
 *	mxport-route 1
 * SUMMARY
 *	show where mxport forwards a domain's mail
 * SYNOPSIS
 *	mxport-route [-c FILE] [-n] [--probe] DOMAIN...
 *	mxport-route [-c FILE] --export FORMAT
 * DESCRIPTION
 *	For each DOMAIN, print the route that mxport-transport would use now:
 *	its source (routes file and line, or the SRV name asked), each target in
 *	try order with preference, weight, port and TLS mode, the target's
 *	addresses and any that the destination guard refuses, and whether the
 *	DNS answer was DNSSEC-secure. With -n, check the configuration and the
 *	routes file and exit. With --probe, connect to each usable address and
 *	report greeting, EHLO capabilities, STARTTLS and the certificate.
 *	With --export, write the routes file as the source of a static map
 *	(domains, sendmail-mailertable, sendmail-access; see export.c).
 * DIAGNOSTICS
 *	Exit 0: every domain is forwarded and has a usable address. 1: some
 *	domain is not forwarded (or has an explicit null route). 75: a
 *	temporary failure (DNS trouble, or no usable address). 78: a
 *	configuration error or a malformed route.
 * SEE ALSO
 *	mxport.conf(5), mxport-transport(8), mxport-milter(8)
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include "policy.h"
#include "errlist.h"
#include "export.h"
#include "probe.h"
#include "mxconfig.h"
#include "route_lookup.h"
#include "routes_file.h"
#include "util.h"

/* usage - print the synopsis and exit */
static void usage(void)
{
	fprintf(stderr, "usage: mxport-route [-c FILE] [-n] [--probe] DOMAIN...\n"
			"       mxport-route [-c FILE] --export FORMAT [--partial]\n");
	exit(EX_USAGE);
}

/* show_checked - what -n checked: the files, the routes, where the daemons log */
static void show_checked(const char *config_path, const struct mx_config *cfg,
			 const struct route_ctx *ctx, size_t file_errors)
{
	const struct routes_file *rf = ctx ? route_ctx_routes(ctx) : NULL;

	printf("%s: %s\n", config_path,
	       file_errors ? "configuration has errors in the routes file" : "configuration OK");
	if (rf) {
		size_t sub = 0, null = 0;

		for (size_t i = 0; i < rf->count; i++) {
			sub += rf->entries[i].subdomains;
			null += rf->entries[i].noservice;
		}
		printf("  routes file %s: %zu route%s (%zu subdomain entr%s, %zu null route%s)%s\n",
		       rf->path, rf->count, rf->count == 1 ? "" : "s", sub, sub == 1 ? "y" : "ies",
		       null, null == 1 ? "" : "s", file_errors ? " on its good lines" : "");
		if (file_errors)
			printf("  routes file %s: %zu error(s) (on stderr): the daemons refuse it "
			       "and keep their last good configuration\n",
			       rf->path, file_errors);
	} else if (*cfg->routes_file) {
		printf("  routes file %s: cannot be read (on stderr)\n", cfg->routes_file);
	} else {
		printf("  routes file: none (routes_file is not set)\n");
	}
	printf("  DNS routes: %s\n",
	       cfg->dns_routes ? "yes, SRV records for domains not in the routes file" : "no");
	printf("  notify map: %s\n", *cfg->notify_map ? cfg->notify_map : "none");
	if (*cfg->secrets_file)
		printf("  secrets file %s: read and checked by mxport-transport (it must be "
		       "readable by it and by nobody else)\n",
		       cfg->secrets_file);
	else
		printf("  secrets file: none\n");
	if (*cfg->postlog_socket)
		printf("  log: Postfix's postlogd socket %s%s%s\n", cfg->postlog_socket,
		       *cfg->postlog_relay_socket ? ", relayed by mxport-milter at " : "",
		       cfg->postlog_relay_socket);
	else
		printf("  log: syslog, facility mail\n");
	if (*cfg->log_file)
		printf("  log: also the file %s\n", cfg->log_file);
}

/* exit_rank - worse outcomes win when several domains are asked for */
static int exit_rank(int code)
{
	switch (code) {
	case EX_CONFIG: return 4;
	case EX_TEMPFAIL: return 3;
	case 1: return 2;
	default: return 1;
	}
}

/* show_domain - print one domain's route; returns its exit code */
static int show_domain(const struct mx_config *cfg, struct route_ctx *ctx, const char *domain,
		       bool probe)
{
	struct route r;
	size_t usable = 0, answering = 0;
	int code;

	route_lookup(ctx, domain, &r);
	printf("%s: %s\n", domain, route_status_name(r.status));
	if (r.source == ROUTE_SRC_FILE)
		printf("  source: routes file %s\n", r.origin);
	else if (r.source == ROUTE_SRC_DNS)
		printf("  source: DNS SRV %s (%s, ttl %u)\n", r.origin,
		       r.secure ? "DNSSEC secure" : "not DNSSEC secure", r.ttl);
	printf("  reason: %s\n", r.reason);
	if (r.notify[0])
		printf("  notify: %s (when deliveries fail for %us)\n", r.notify,
		       cfg->notify_after);
	if (r.status == ROUTE_OK && route_verify_wanted(&r, cfg->verify_recipients))
		printf("  verify: recipients asked at RCPT (%s)\n",
		       r.verify == ROUTE_VERIFY_YES ? "verify=yes" : "verify_recipients = yes");
	for (size_t i = 0; i < r.ntargets; i++) {
		const struct route_target *t = &r.targets[i];
		struct route_addrs a;

		printf("  %zu. pref %u weight %u %s%s%s%s port %u tls %s%s\n", i + 1, t->pref,
		       t->weight, t->implicit_tls ? "smtps://" : "", t->literal ? "[" : "", t->host,
		       t->literal ? "]" : "", t->port,
		       mx_tls_mode_names[route_effective_tls(ctx, t)],
		       t->implicit_tls ? " (implicit)" : "");
		route_resolve(ctx, t, &a);
		if (a.status != ROUTE_OK)
			printf("     no address: %s (%s)\n", a.reason, route_status_name(a.status));
		for (size_t j = 0; j < a.count; j++) {
			if (a.addrs[j].refused) {
				printf("     %s refused: %s\n", a.addrs[j].text, a.addrs[j].why);
			} else {
				printf("     %s\n", a.addrs[j].text);
				usable++;
				if (probe && probe_target(cfg, ctx, t, &a.addrs[j]))
					answering++;
			}
		}
		if (!t->literal && a.status == ROUTE_OK)
			printf("     addresses %s DNSSEC secure\n", a.secure ? "are" : "are not");
		route_addrs_clear(&a);
	}
	switch (r.status) {
	case ROUTE_OK:
		code = usable ? 0 : EX_TEMPFAIL;
		if (!usable)
			printf("  no usable address: mail would be deferred\n");
		else if (probe && !answering) {
			printf("  no target answered: mail would be deferred\n");
			code = EX_TEMPFAIL;
		}
		break;
	default: code = mx_policy(mx_route_outcome(r.status, false))->route_exit; break;
	}
	route_clear(&r);
	return code;
}

int main(int argc, char **argv)
{
	const char *config_path = MX_CONFIG_FILE;
	struct mx_config *cfg = mx_config_defaults();
	struct mx_errlist errs;
	struct route_ctx *ctx = NULL;
	const char *export_format = NULL;
	bool check_only = false, probe = false, partial = false;
	size_t file_errors = 0;
	int ch, worst = 0;

	static const struct option longopts[] = {
		{"probe", no_argument, NULL, 'p'},
		{"export", required_argument, NULL, 'x'},
		{"partial", no_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};

	signal(SIGPIPE, SIG_IGN); /* a probed server that hangs up is reported, not fatal */
	while ((ch = getopt_long(argc, argv, "c:n", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; break;
		case 'n': check_only = true; break;
		case 'p': probe = true; break;
		case 'x': export_format = optarg; break;
		case 'P': partial = true; break;
		default: usage();
		}
	}
	if (export_format && (check_only || probe || optind != argc))
		usage();
	if (partial && !export_format)
		usage();
	if (!export_format && !check_only && optind >= argc)
		usage();
	mx_errlist_init(&errs);
	/*
	 * Errors in the routes file are listed even when mxport.conf has some
	 * too. --export reads the routes file itself and needs no lookups.
	 */
	bool config_ok = mx_config_read(cfg, config_path, &errs) == 0;
	/*
	 * A routes file with bad lines is still shown (lookups from its good
	 * lines, each error named): the daemons refuse such a file and keep
	 * their last good configuration, and this is the tool to look at it.
	 */
	if (!export_format && config_ok)
		ctx = route_ctx_new_partial(cfg, &errs, &file_errors);
	else if (!export_format && *cfg->routes_file)
		ctx = route_ctx_new(cfg, &errs);
	/* -n: a log destination that cannot be opened is an error too */
	if (check_only && config_ok)
		mx_config_logs(cfg, true, &errs);
	bool only_file = ctx && errs.count == file_errors && file_errors > 0;
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "mxport-route: %s%s\n", only_file && !check_only ? "warning: " : "",
			errs.msgs[i]);
	if (only_file && !check_only) {
		fprintf(stderr,
			"mxport-route: warning: routes file %s: %zu error(s): the daemons refuse "
			"it "
			"and keep their last good configuration; shown: its good lines\n",
			cfg->routes_file, file_errors);
	} else if (errs.count && !(check_only && only_file)) {
		fprintf(stderr, "mxport-route: %zu configuration error(s)\n", errs.count);
		mx_errlist_free(&errs);
		route_ctx_free(ctx);
		mx_config_free(cfg);
		return EX_CONFIG;
	}
	if (export_format) {
		worst = export_routes(cfg, export_format, partial, stdout);
	} else if (check_only) {
		show_checked(config_path, cfg, ctx, file_errors);
		if (file_errors)
			worst = EX_CONFIG;
	} else {
		for (int i = optind; i < argc; i++) {
			int code = show_domain(cfg, ctx, argv[i], probe);
			if (exit_rank(code) > exit_rank(worst))
				worst = code;
		}
	}
	route_ctx_free(ctx);
	mx_config_free(cfg);
	mx_errlist_free(&errs);
	return worst;
}
