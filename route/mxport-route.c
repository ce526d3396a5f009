/*++
 * NAME
 *	mxport-route 1
 * SUMMARY
 *	show where mxport forwards a domain's mail
 * SYNOPSIS
 *	mxport-route [-c FILE] [-n] [--probe] DOMAIN...
 *	mxport-route [-c FILE] --export FORMAT
 *	mxport-route [-c FILE] --index [ROUTES]
 *	mxport-route [-c FILE] --metrics[=TEXTFILE]
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
 *	With --index, check every line of the routes file and write its index
 *	ROUTES.cdb (dns/routes_index.c), which the lookups of every program
 *	then read by page instead of loading the whole file; on any error
 *	nothing is written and the index in place stays. The same for the
 *	secrets file and the notify map when they are set (smtp/secrets.c,
 *	dns/notify_map.c), each on its own. With ROUTES, index
 *	that file instead (a new version, to be renamed into place with its
 *	index: the index records the file's inode, which a rename keeps).
 *	With --metrics, print the counters of metrics_file in Prometheus's
 *	text format (lib/metrics.c), or write them to TEXTFILE for
 *	node_exporter's textfile collector (a new file renamed into place).
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
#include <time.h>
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include "cdb_table.h"
#include "notify_map.h"
#include "policy.h"
#include "errlist.h"
#include "export.h"
#include "metrics.h"
#include "probe.h"
#include "msg.h"
#include "mxconfig.h"
#include "route_lookup.h"
#include "routes_index.h"
#include "routes_file.h"
#include "secrets.h"
#include "shared_state.h"
#include "util.h"

/* usage - print the synopsis and exit */
static void usage(void)
{
	fprintf(stderr, "usage: mxport-route [-c FILE] [-n] [--probe] DOMAIN...\n"
			"       mxport-route [-c FILE] --export FORMAT [--partial]\n"
			"       mxport-route [-c FILE] --index [ROUTES]\n"
			"       mxport-route [-c FILE] --metrics[=TEXTFILE]\n");
	exit(EX_USAGE);
}

/*
 * show_metrics - --metrics[=TEXTFILE]: metrics_file as it is now, in
 * Prometheus's format, on standard output or into TEXTFILE
 */
static int show_metrics(const struct mx_config *cfg, const char *textfile)
{
	struct mx_metrics *m;
	char err[600];
	bool ok;

	if (!*cfg->metrics_file) {
		fprintf(stderr, "mxport-route: no metrics_file in the configuration\n");
		return EX_CONFIG;
	}
	m = mx_metrics_open_read(cfg->metrics_file, err, sizeof(err));
	if (m == NULL) {
		fprintf(stderr, "mxport-route: %s\n", err);
		return EX_UNAVAILABLE;
	}
	if (textfile)
		ok = mx_metrics_write_textfile(m, textfile, err, sizeof(err));
	else if (!(ok = mx_metrics_write(m, stdout) && fflush(stdout) == 0))
		snprintf(err, sizeof(err), "standard output: write error");
	mx_metrics_close(m);
	if (!ok) {
		fprintf(stderr, "mxport-route: %s\n", err);
		return EX_IOERR;
	}
	return 0;
}

/* an indexed table: its builder and what its entries are */
struct table {
	const char *setting; /* its mxport.conf setting */
	const char *entries; /* "route(s)" */
	bool (*build)(const char *path, struct mx_errlist *errs, size_t *count);
};

static const struct table tables[] = {
	{"routes_file", "route(s)", routes_index_build},
	{"secrets_file", "secret(s)", secrets_index_build},
	{"notify_map", "contact(s)", notify_map_index_build},
};

/* index_one - one table checked whole and indexed, or nothing written: 0 or EX_CONFIG */
static int index_one(const struct table *t, const char *file)
{
	struct mx_errlist errs;
	char idx[4096];
	size_t count;

	mx_cdb_path(file, idx, sizeof(idx));
	mx_errlist_init(&errs);
	if (!t->build(file, &errs, &count)) {
		for (size_t i = 0; i < errs.count; i++)
			fprintf(stderr, "mxport-route: %s\n", errs.msgs[i]);
		fprintf(stderr, "mxport-route: --index: %zu error(s); %s is unchanged\n",
			errs.count, idx);
		mx_errlist_free(&errs);
		return EX_CONFIG;
	}
	mx_errlist_free(&errs);
	printf("%s: %zu %s from %s\n", idx, count, t->entries, file);
	return 0;
}

/*
 * build_index - --index [FILE]: the routes file, the secrets file and the
 * notify map (those that are set), each checked whole and indexed, or its
 * index left as it was; or FILE, a new version of the routes file to be
 * renamed into place with its index
 */
static int build_index(const struct mx_config *cfg, const char *file)
{
	const char *paths[] = {cfg->routes_file, cfg->secrets_file, cfg->notify_map};
	int worst = 0, done = 0;

	if (file)
		return index_one(&tables[0], file);
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (*paths[i] == '\0')
			continue;
		done++;
		if (index_one(&tables[i], paths[i]) != 0)
			worst = EX_CONFIG;
	}
	if (done == 0) {
		fprintf(stderr, "mxport-route: --index: routes_file, secrets_file and notify_map "
				"are not set: nothing to index\n");
		return EX_CONFIG;
	}
	return worst;
}

/* show_index - -n: whether each table is read through its index */
static void show_index(const struct mx_config *cfg, const struct route_ctx *ctx)
{
	enum routes_index_state st;
	char why[4400], idx[4096];

	if (*cfg->routes_file) {
		struct routes_index *ri =
			routes_index_open(cfg->routes_file, &st, why, sizeof(why));

		routes_index_path(cfg->routes_file, idx, sizeof(idx));
		if (ri)
			printf("%s: routes index fresh, %zu route(s)\n", idx,
			       routes_index_count(ri));
		else if (st == ROUTES_INDEX_NONE)
			printf("%s: no routes index (the file is read itself)\n", cfg->routes_file);
		/* a stale or damaged index was said on standard error by the lookup set-up */
		routes_index_close(ri);
	}
	if (*cfg->secrets_file) {
		size_t n;
		enum mx_cdb_state sst =
			secrets_index_state(cfg->secrets_file, &n, why, sizeof(why));

		mx_cdb_path(cfg->secrets_file, idx, sizeof(idx));
		if (sst == MX_CDB_FRESH)
			printf("%s: secrets index fresh, %zu secret(s)\n", idx, n);
		else if (sst == MX_CDB_NONE)
			printf("%s: no secrets index (the file is read itself)\n",
			       cfg->secrets_file);
		else
			printf("secrets index %s; mxport-transport reads %s itself\n", why,
			       cfg->secrets_file);
	}
	if (*cfg->notify_map && ctx) {
		size_t n = notify_map_indexed(route_ctx_notify(ctx));

		mx_cdb_path(cfg->notify_map, idx, sizeof(idx));
		if (n)
			printf("%s: notify map index fresh, %zu contact(s)\n", idx, n);
		else
			printf("%s: no notify map index in use (the file is read itself)\n",
			       cfg->notify_map);
	}
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
	} else if (ctx && route_ctx_index(ctx)) {
		printf("  routes file %s: %zu route%s, read through its index\n", cfg->routes_file,
		       routes_index_count(route_ctx_index(ctx)),
		       routes_index_count(route_ctx_index(ctx)) == 1 ? "" : "s");
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

/*
 * show_outage - with shared_state: the fleet's outage of the route, as the
 * transports share it (mxport-transport(8), NOTICES): seen by this relay
 * even when it never tried the route itself.
 */
static void show_outage(const struct mx_config *cfg, const struct route *r, const char *domain)
{
	const char *name = r->name[0] ? r->name : domain;
	char key[MX_DOMAIN_MAX + 64], v[32], date[64];
	long long since;
	struct tm tm;
	time_t t;

	if (!*cfg->shared_state)
		return;
	shared_state_setup(cfg->shared_state, cfg->shared_state_timeout, cfg->shared_state_retry,
			   NULL);
	snprintf(key, sizeof(key), "mxport:outage:%s%s:since", name[0] == '.' ? "_" : "",
		 name + (name[0] == '.'));
	switch (shared_state_get(key, v, sizeof(v))) {
	case SS_OK:
		since = strtoll(v, NULL, 10);
		t = (time_t)since;
		localtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %z", &tm);
		printf("  outage (shared): deliveries failing since %s (%lld s)\n", date,
		       (long long)time(NULL) - since);
		break;
	case SS_NOTFOUND: printf("  outage (shared): none\n"); break;
	default: printf("  outage (shared): unknown, memcached does not answer\n"); break;
	}
}

/* show_domain - print one domain's route; returns its exit code */
static int show_domain(const struct mx_config *cfg, struct route_ctx *ctx, const char *domain,
		       bool probe)
{
	struct route r;
	size_t usable = 0, answering = 0;
	bool loops = false;
	int code;

	route_lookup(ctx, domain, &r);
	printf("%s: %s\n", domain, route_status_name(r.status));
	if (r.source == ROUTE_SRC_FILE)
		printf("  source: routes file %s\n", r.origin);
	else if (r.source == ROUTE_SRC_DNS)
		printf("  source: DNS SRV %s (%s, ttl %u)\n", r.origin,
		       r.secure ? "DNSSEC secure" : "not DNSSEC secure", r.ttl);
	printf("  reason: %s\n", r.reason);
	if (r.notify[0]) {
		printf("  notify: %s (when deliveries fail for %us)\n", r.notify,
		       cfg->notify_after);
		if (r.status == ROUTE_OK)
			show_outage(cfg, &r, domain);
	}
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
			}
		}
		if (!t->literal && a.status == ROUTE_OK)
			printf("     addresses %s DNSSEC secure\n", a.secure ? "are" : "are not");
		route_addrs_clear(&a);
	}
	if (probe && r.status == ROUTE_OK && usable)
		answering = probe_route(cfg, ctx, &r, &loops);
	switch (r.status) {
	case ROUTE_OK:
		code = usable ? 0 : EX_TEMPFAIL;
		if (loops) {
			code = mx_status(MX_ST_LOOP)->route_exit;
			break;
		}
		if (!usable)
			printf("  no usable address: mail would be deferred\n");
		else if (probe && !answering) {
			printf("  no target answered: mail would be deferred\n");
			code = EX_TEMPFAIL;
		}
		break;
	default: code = mx_status(mx_route_outcome(r.status, false))->route_exit; break;
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
	const char *export_format = NULL, *metrics_textfile = NULL;
	bool check_only = false, probe = false, build = false, partial = false, metrics = false;
	size_t file_errors = 0;
	int ch, worst = 0;

	static const struct option longopts[] = {
		{"probe", no_argument, NULL, 'p'},	   {"export", required_argument, NULL, 'x'},
		{"index", no_argument, NULL, 'i'},	   {"partial", no_argument, NULL, 'P'},
		{"metrics", optional_argument, NULL, 'm'}, {NULL, 0, NULL, 0},
	};

	signal(SIGPIPE, SIG_IGN); /* a probed server that hangs up is reported, not fatal */
	msg_init("mxport-route", MSG_TO_STDERR); /* a stale routes index, said to the admin */
	while ((ch = getopt_long(argc, argv, "c:n", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; break;
		case 'n': check_only = true; break;
		case 'p': probe = true; break;
		case 'x': export_format = optarg; break;
		case 'i': build = true; break;
		case 'P': partial = true; break;
		case 'm':
			metrics = true;
			metrics_textfile = optarg;
			break;
		default: usage();
		}
	}
	if (export_format && (check_only || probe || build || optind != argc))
		usage();
	if (build && (check_only || probe || argc - optind > 1))
		usage();
	if (partial && !export_format)
		usage();
	if (metrics && (check_only || probe || build || export_format || optind != argc))
		usage();
	if (!export_format && !build && !check_only && !metrics && optind >= argc)
		usage();
	mx_errlist_init(&errs);
	/*
	 * Errors in the routes file are listed even when mxport.conf has some
	 * too. --export and --index read the routes file themselves and need
	 * no lookups.
	 */
	bool config_ok = mx_config_read(cfg, config_path, &errs) == 0;
	/*
	 * A routes file with bad lines is still shown (lookups from its good
	 * lines, each error named): the daemons refuse such a file and keep
	 * their last good configuration, and this is the tool to look at it.
	 */
	if (!export_format && !build && !metrics && config_ok)
		ctx = route_ctx_new_partial(cfg, &errs, &file_errors);
	else if (!export_format && !build && !metrics && *cfg->routes_file)
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
	if (metrics) {
		worst = show_metrics(cfg, metrics_textfile);
	} else if (build) {
		worst = build_index(cfg, optind < argc ? argv[optind] : NULL);
	} else if (export_format) {
		worst = export_routes(cfg, export_format, partial, stdout);
	} else if (check_only) {
		show_checked(config_path, cfg, ctx, file_errors);
		show_index(cfg, ctx);
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
