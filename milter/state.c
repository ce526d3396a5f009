/* state - the configuration in force, swapped whole on reload and shared by reference */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "state.h"
#include "util.h"

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static struct milter_state *current;

/* state_free - release a state nobody uses any more */
static void state_free(struct milter_state *st)
{
	route_ctx_free(st->routes);
	verify_ctx_free(st->verify);
	mx_netlist_free(&st->trusted);
	mx_config_free(st->cfg);
	free(st);
}

/*
 * state_build - read and check a whole configuration (mxport.conf, the
 * routes file, the lists); NULL with every error listed when anything is
 * wrong. Nothing is installed here: a reload that fails leaves the running
 * configuration alone.
 */
struct milter_state *state_build(const char *path, struct mx_errlist *errs)
{
	struct milter_state *st = mx_calloc(1, sizeof(*st));
	size_t before = errs->count;
	char err[512];

	st->cfg = mx_config_defaults();
	mx_config_read(st->cfg, path, errs);
	if (errs->count == before || *st->cfg->routes_file)
		st->routes = route_ctx_new(st->cfg, errs);
	if (!mx_netlist_parse(st->cfg->trusted_networks, &st->trusted, err, sizeof(err)))
		mx_errlist_add(errs, "%s: trusted_networks: %s", path, err);
	if (errs->count != before) {
		state_free(st);
		return NULL;
	}
	/* A reload forgets what servers said: routes and their servers may have changed. */
	st->verify = verify_ctx_new(st->cfg);
	st->refs = 1; /* the reference of "current" */
	return st;
}

/* state_install - make st current; the old state goes when its last user lets go */
void state_install(struct milter_state *st)
{
	struct milter_state *old;

	pthread_mutex_lock(&state_lock);
	old = current;
	current = st;
	if (old && --old->refs == 0) {
		pthread_mutex_unlock(&state_lock);
		state_free(old);
		return;
	}
	pthread_mutex_unlock(&state_lock);
}

/* state_acquire - a reference to the current state, for one message or lookup */
struct milter_state *state_acquire(void)
{
	struct milter_state *st;

	pthread_mutex_lock(&state_lock);
	st = current;
	st->refs++;
	pthread_mutex_unlock(&state_lock);
	return st;
}

/* state_release - give a reference back */
void state_release(struct milter_state *st)
{
	bool last;

	if (st == NULL)
		return;
	pthread_mutex_lock(&state_lock);
	last = --st->refs == 0;
	pthread_mutex_unlock(&state_lock);
	if (last)
		state_free(st);
}
