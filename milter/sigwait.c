/*
 * sigwait - keep SIGHUP away from libmilter's signal thread.
 *
 * libmilter's signal thread sigwait()s for SIGHUP, SIGTERM and SIGINT and
 * stops the milter on any of them. Here SIGHUP means "reload" (main.c),
 * yet Linux may hand a process's SIGHUP to whichever thread waits for it,
 * the sigwait()ing one included: a quick second `systemctl reload` could
 * stop the milter, and the tests saw it happen. libmilter offers no way to
 * change its set, so this definition of sigwait(), which the dynamic linker
 * finds in the executable before the C library's, also for libmilter's
 * calls, waits for the same set without SIGHUP. mxport's own code does not
 * call sigwait(). SIGHUP stays blocked in libmilter's threads, so it only
 * ever reaches the threads that run main.c's handler.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>

int sigwait(const sigset_t *set, int *sig)
{
	sigset_t without_hup = *set;
	int got;

	sigdelset(&without_hup, SIGHUP);
	do
		got = sigwaitinfo(&without_hup, NULL);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno;
	*sig = got;
	return 0;
}
