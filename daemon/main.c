/*
 * main — wires the daemon together and nothing more: flags and config,
 * root hints, the shared cache and server table, N workers, then waits for
 * SIGINT/SIGTERM and shuts everything down cleanly (exit 0).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/context.h"
#include "daemon/worker.h"
#include "daemon/root_hints.h"
#include "daemon/control.h"
#include "daemon/limits.h"
#include "daemon/client_tcp.h"
#include "cache/cache.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: holdfast [options]\n"
		"A caching recursive DNS resolver that keeps answering when authorities fail.\n"
		"\n"
		"  -c, --config FILE     read the configuration file FILE\n"
		"  -l, --listen ADDR@PORT listen on ADDR (repeatable; replaces the listen set)\n"
		"  -t, --threads N       worker threads (default: number of CPUs)\n"
		"      --root-hints FILE root hints in named.root format (default: built in)\n"
		"  -v, --verbose         more logging (repeatable)\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the version\n"
		"\n"
		"Flags override the configuration file. See conf/holdfast.conf.\n");
}

struct flags {
	const char *config;
	const char *root_hints;
	const char *listen[CONFIG_MAX_LISTEN];
	size_t nlisten;
	long threads;
	int verbose;
};

static int parse_flags(int argc, char **argv, struct flags *f)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, 'l'},
		{"threads", required_argument, NULL, 't'},
		{"root-hints", required_argument, NULL, 'R'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	memset(f, 0, sizeof(*f));
	f->threads = -1;
	int c;
	while ((c = getopt_long(argc, argv, "c:l:t:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			f->config = optarg;
			break;
		case 'l':
			if (f->nlisten >= CONFIG_MAX_LISTEN) {
				fprintf(stderr, "holdfast: too many -l addresses\n");
				return 2;
			}
			f->listen[f->nlisten++] = optarg;
			break;
		case 't': {
			char *end;
			f->threads = strtol(optarg, &end, 10);
			if (*end || f->threads < 1 || f->threads > 1024) {
				fprintf(stderr, "holdfast: -t wants a number of threads 1..1024\n");
				return 2;
			}
			break;
		}
		case 'R':
			f->root_hints = optarg;
			break;
		case 'v':
			f->verbose++;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("holdfast %s\n", HOLDFAST_VERSION);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "holdfast: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

static int zone_list_build(struct resolver_zone_list *list, const char (*names)[CONFIG_NAME_MAX],
			   size_t n)
{
	list->count = 0;
	list->names = n ? calloc(n, sizeof(ldns_rdf *)) : NULL;
	if (n && !list->names)
		return -1;
	for (size_t i = 0; i < n; i++) {
		/* config_load_file() already checked that each one parses */
		if (ldns_str2rdf_dname(&list->names[list->count], names[i]) != LDNS_STATUS_OK)
			return -1;
		list->count++;
	}
	return 0;
}

static void zone_list_free(struct resolver_zone_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		ldns_rdf_deep_free(list->names[i]);
	free(list->names);
	list->names = NULL;
	list->count = 0;
}

/*
 * Stub and forward zones for the resolver. Each server's provider becomes a
 * name under "holdfast-provider." whose registrable domain is the provider
 * label (or one per address when none is given), so upstream/'s provider
 * grouping applies unchanged.
 */
static int stubs_build(struct daemon_ctx *ctx)
{
	const struct config *cfg = &ctx->cfg;
	if (cfg->nstubs == 0)
		return 0;
	struct resolver_stub *stubs = calloc(cfg->nstubs, sizeof(*stubs));
	if (!stubs)
		return -1;
	ctx->resolver_opts.stubs = stubs;
	ctx->resolver_opts.nstubs = cfg->nstubs;
	for (size_t i = 0; i < cfg->nstubs; i++) {
		const struct config_stub *cs = &cfg->stubs[i];
		struct resolver_stub *rs = &stubs[i];
		rs->forward = cs->forward;
		rs->addrs = calloc(cs->naddrs, sizeof(*rs->addrs));
		rs->provider_ns = calloc(cs->naddrs, sizeof(ldns_rdf *));
		if (ldns_str2rdf_dname(&rs->zone, cs->zone) != LDNS_STATUS_OK || !rs->addrs ||
		    !rs->provider_ns)
			return -1;
		for (size_t j = 0; j < cs->naddrs; j++) {
			char name[CONFIG_PROVIDER_MAX + 64];
			if (cs->provider[j][0])
				snprintf(name, sizeof(name), "ns.%s.holdfast-provider.",
					 cs->provider[j]);
			else
				snprintf(name, sizeof(name), "ns.z%zu-a%zu.holdfast-provider.", i,
					 j);
			if (ldns_str2rdf_dname(&rs->provider_ns[j], name) != LDNS_STATUS_OK)
				return -1;
			rs->addrs[j] = cs->addrs[j];
			rs->naddrs++;
		}
	}
	return 0;
}

static void stubs_free(struct daemon_ctx *ctx)
{
	struct resolver_stub *stubs = (struct resolver_stub *)ctx->resolver_opts.stubs;
	for (size_t i = 0; stubs && i < ctx->resolver_opts.nstubs; i++) {
		ldns_rdf_deep_free(stubs[i].zone);
		for (size_t j = 0; j < stubs[i].naddrs; j++)
			ldns_rdf_deep_free(stubs[i].provider_ns[j]);
		free(stubs[i].provider_ns);
		free(stubs[i].addrs);
	}
	free(stubs);
	ctx->resolver_opts.stubs = NULL;
	ctx->resolver_opts.nstubs = 0;
}

/* Config and flags into the options of each module. */
static int build_ctx(struct daemon_ctx *ctx, const struct flags *f)
{
	struct config *cfg = &ctx->cfg;
	char err[512];
	config_defaults(cfg);
	if (f->config && config_load_file(cfg, f->config, err, sizeof(err)) != 0) {
		fprintf(stderr, "holdfast: %s\n", err);
		return -1;
	}
	if (f->nlisten > 0) {
		cfg->nlisten = 0;
		for (size_t i = 0; i < f->nlisten; i++) {
			if (config_parse_addr_port(f->listen[i], 53, &cfg->listen[i].addr) != 0) {
				fprintf(stderr, "holdfast: -l %s: expected ADDR[@PORT]\n",
					f->listen[i]);
				return -1;
			}
			cfg->nlisten++;
		}
	}
	if (f->threads > 0)
		cfg->num_threads = (unsigned)f->threads;
	if (cfg->num_threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->num_threads = n > 0 ? (unsigned)n : 1;
	}
	log_set_verbosity(cfg->verbosity + f->verbose);

	const char *hints =
		f->root_hints ? f->root_hints : (cfg->root_hints[0] ? cfg->root_hints : NULL);
	if (daemon_root_hints_load(hints, &ctx->root_hints, err, sizeof(err)) != 0) {
		fprintf(stderr, "holdfast: %s\n", err);
		return -1;
	}

	struct cache_opts co = {
		.max_bytes = cfg->cache_size,
		.min_ttl = cfg->cache_min_ttl,
		.max_ttl = cfg->cache_max_ttl,
		.max_negative_ttl = cfg->cache_max_negative_ttl,
		.max_stale_ttl = cfg->max_stale_ttl,
		.harden_below_nxdomain = cfg->harden_below_nxdomain,
	};
	ctx->cache = cache_create(&co);
	ctx->servers = upstream_servers_create();
	ctx->tcp_addrs = client_tcp_addrs_create();
	if (!ctx->cache || !ctx->servers || !ctx->tcp_addrs) {
		fprintf(stderr, "holdfast: out of memory\n");
		return -1;
	}

	/* RLIMIT_NOFILE for what the threads will open; the caps scaled
	 * down here rather than EMFILE later. */
	struct daemon_limits lim = {
		.threads = cfg->num_threads,
		.listen = (unsigned)cfg->nlisten,
		.incoming_tcp = cfg->tcp_max_connections,
		.outgoing_range = cfg->outgoing_range,
	};
	if (daemon_limits_apply(&lim) != 0) {
		fprintf(stderr, "holdfast: RLIMIT_NOFILE too low for this configuration\n");
		return -1;
	}
	cfg->tcp_max_connections = lim.incoming_tcp;
	cfg->outgoing_range = lim.outgoing_range;

	upstream_opts_init(&ctx->upstream_opts);
	ctx->upstream_opts.outgoing_range = cfg->outgoing_range;
	ctx->upstream_opts.edns_buffer_size = cfg->edns_buffer_size;
	ctx->upstream_opts.do_ip4 = cfg->do_ip4;
	ctx->upstream_opts.do_ip6 = cfg->do_ip6;
	ctx->upstream_opts.do_not_query_localhost = cfg->do_not_query_localhost;
	ctx->upstream_opts.use_caps_for_id = cfg->use_caps_for_id;
	ctx->upstream_opts.unwanted_reply_threshold = cfg->unwanted_reply_threshold;
	ctx->upstream_opts.source4 = cfg->outgoing4;
	ctx->upstream_opts.source6 = cfg->outgoing6;
	ctx->upstream_opts.client_share_percent = cfg->client_share_percent;

	resolver_opts_init(&ctx->resolver_opts);
	ctx->resolver_opts.qname_minimisation = cfg->qname_minimisation;
	ctx->resolver_opts.harden_glue = cfg->harden_glue;
	ctx->resolver_opts.do_ip4 = cfg->do_ip4;
	ctx->resolver_opts.do_ip6 = cfg->do_ip6;

	struct cache_policy *policy = &ctx->resolver_opts.policy;
	cache_policy_init(policy);
	policy->serve_stale = cfg->serve_stale;
	policy->stale_answer_ttl = cfg->stale_answer_ttl;
	policy->stale_refresh_time = cfg->stale_refresh_time;
	policy->empty_guard = cfg->empty_guard;
	policy->empty_hold = cfg->empty_hold;
	if (zone_list_build(&ctx->resolver_opts.guard_include, cfg->guard_include,
			    cfg->nguard_include) != 0 ||
	    zone_list_build(&ctx->resolver_opts.guard_exclude, cfg->guard_exclude,
			    cfg->nguard_exclude) != 0 ||
	    zone_list_build(&ctx->caps_exempt, cfg->caps_exempt, cfg->ncaps_exempt) != 0) {
		fprintf(stderr, "holdfast: out of memory\n");
		return -1;
	}
	ctx->upstream_opts.caps_exempt = ctx->caps_exempt.names;
	ctx->upstream_opts.ncaps_exempt = ctx->caps_exempt.count;
	ctx->stale_client_timeout_ms = cfg->stale_client_timeout_ms;
	if (stubs_build(ctx) != 0) {
		fprintf(stderr, "holdfast: out of memory\n");
		return -1;
	}

	ctx->env.cache = ctx->cache;
	ctx->env.stats = &ctx->stats;
	ctx->env.opts = &ctx->resolver_opts;
	ctx->env.root_hints = ctx->root_hints;
	ctx->resolution_timeout_ms = 12000;
	ctx->max_udp_size = cfg->max_udp_size;
	return 0;
}

static void on_signal(uv_signal_t *s, int signum)
{
	log_info(LOG_DAEMON, "signal %d, shutting down", signum);
	uv_stop(s->loop);
}

int main(int argc, char **argv)
{
	struct flags f;
	int r = parse_flags(argc, argv, &f);
	if (r != 0)
		return r == 1 ? 0 : 2;

	/* Writes to closed client connections must not kill the process. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		fprintf(stderr, "holdfast: cannot ignore SIGPIPE: %s\n", strerror(errno));
		return 1;
	}

	static struct daemon_ctx ctx;
	int status = 1;
	struct worker *workers = NULL;
	unsigned started = 0;
	cache_thread_register();
	if (build_ctx(&ctx, &f) != 0)
		goto out;

	workers = calloc(ctx.cfg.num_threads, sizeof(*workers));
	if (!workers)
		goto out;
	for (; started < ctx.cfg.num_threads; started++) {
		if (worker_start(&workers[started], &ctx, started) != 0)
			goto out_stop;
	}
	log_info(LOG_DAEMON, "holdfast %s running: %u threads, %zu listen addresses",
		 HOLDFAST_VERSION, started, ctx.cfg.nlisten);

	/* The main thread waits for signals and serves the control socket:
	 * offline for RCU while its loop waits, so it holds back no worker's
	 * reclamation; control.c brings it online only for a cache walk
	 * (flush) and offline again after. */
	cache_thread_offline();
	uv_loop_t *loop = uv_default_loop();
	uv_signal_t sigint, sigterm;
	uv_signal_init(loop, &sigint);
	uv_signal_init(loop, &sigterm);
	uv_signal_start(&sigint, on_signal, SIGINT);
	uv_signal_start(&sigterm, on_signal, SIGTERM);
	struct control control;
	control_start(&control, loop, &ctx, ctx.cfg.control_socket);
	uv_run(loop, UV_RUN_DEFAULT);
	control_stop(&control);
	uv_close((uv_handle_t *)&sigint, NULL);
	uv_close((uv_handle_t *)&sigterm, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	status = 0;

out_stop:
	for (unsigned i = 0; i < started; i++)
		worker_stop(&workers[i]);
	for (unsigned i = 0; i < started; i++)
		worker_join(&workers[i]);
	if (status == 0)
		cache_thread_online(); /* offline since the workers started */
out:
	free(workers);
	cache_destroy(ctx.cache);
	upstream_servers_destroy(ctx.servers);
	client_tcp_addrs_destroy(ctx.tcp_addrs);
	ldns_rr_list_deep_free(ctx.root_hints);
	stubs_free(&ctx);
	zone_list_free(&ctx.resolver_opts.guard_include);
	zone_list_free(&ctx.resolver_opts.guard_exclude);
	zone_list_free(&ctx.caps_exempt);
	cache_thread_unregister();
	return status;
}
