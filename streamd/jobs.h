/* streamd's background jobs that are not pipelines: the clip worker
 * (clip.c), which cuts clips of recordings (A4) in a thread of its own
 * with its own store connection, one job at a time, in the order they
 * were asked for. */
#ifndef STREAMD_JOBS_H
#define STREAMD_JOBS_H

/* Starts the worker on the database at path, writing under media_root;
 * 'running' jobs left by a streamd that died go back to 'pending' first.
 * Returns 0, or -1 with *cause. */
int		 clip_start(const char *database, const char *media_root,
		    char **cause);
/* Makes the worker look for pending jobs now (the control socket's
 * "jobs" command); harmless when it does not run. */
void		 clip_wake(void);
/* Stops the worker: a job being cut is abandoned and stays pending for
 * the next start. */
void		 clip_stop(void);

#endif
