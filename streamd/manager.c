#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "catalog.h"
#include "jobs.h"
#include "log.h"
#include "outbox.h"
#include "streamd.h"
#include "xmalloc.h"

/* Timed recordings start their channel this long before their start, so
 * that the first keyframe at the start is already flowing. */
#define RECORD_PREROLL	5

/* A pipeline in the manager's list. */
struct entry {
	struct pipeline	*p;
	int		 refs;		/* control connections using it */
	int		 stopping;
	int		 removed;	/* out of the list, waiting for refs */
};

/* A folder to remove once its channel has been stopped long enough. */
struct cleanup {
	long long	 id;
	int64_t		 at;
};

struct manager {
	pthread_mutex_t	 lock;
	struct entry	*v;
	size_t		 n;
	struct channel	**ch;		/* the channels, by id order */
	size_t		 nch;
	struct objlist	 profiles;	/* struct profile */
	struct pipeline_limits limits;
	int		 idle_timeout;
	int		 cleanup_delay;
	int		 wake_fd;
	struct cleanup	*cl;
	size_t		 ncl;
	int64_t		 generation;
	int64_t		 next_check;
	long long	 next_owner;	/* private pipelines numbered */
	int		 recovered;	/* recordings of a previous run marked,
					   the clip worker started */
	int		 clips;		/* the clip worker runs */
	int64_t		 next_schedule;
};

static void
set_limits(struct manager *m, const struct config *cfg)
{
	free(m->limits.media_root);
	m->limits.media_root = xstrdup(cfg->server.media_root);
	m->limits.input_timeout = (int)cfg->server.input_timeout;
	m->limits.stall_timeout = (int)cfg->server.stall_timeout;
	m->limits.delay_min = (int)cfg->server.restart_delay_min;
	m->limits.delay_max = (int)cfg->server.restart_delay_max;
	m->limits.max_failures = (int)cfg->server.max_failures;
	m->idle_timeout = (int)cfg->server.idle_timeout;
	m->cleanup_delay = (int)cfg->server.cleanup_delay;
}

struct manager *
manager_new(const struct config *cfg, int wake_fd)
{
	struct manager	*m;

	m = xcalloc(1, sizeof *m);
	pthread_mutex_init(&m->lock, NULL);
	m->wake_fd = wake_fd;
	m->generation = -1;
	set_limits(m, cfg);
	return (m);
}

void
manager_configure(struct manager *m, const struct config *cfg)
{
	pthread_mutex_lock(&m->lock);
	set_limits(m, cfg);
	pthread_mutex_unlock(&m->lock);
}

static struct channel *
find_channel(struct manager *m, long long id)
{
	size_t	i;

	for (i = 0; i < m->nch; i++)
		if (m->ch[i]->id == id)
			return (m->ch[i]);
	return (NULL);
}

/* The shared pipeline of (id, group): a private one is never found. */
static struct entry *
find_entry(struct manager *m, long long id, const char *group)
{
	size_t	i;

	for (i = 0; i < m->n; i++)
		if (!m->v[i].removed && m->v[i].p->owner == 0 &&
		    m->v[i].p->id == id &&
		    strcmp(m->v[i].p->group, group) == 0)
			return (&m->v[i]);
	return (NULL);
}

static struct entry *
entry_of(struct manager *m, struct pipeline *p)
{
	size_t	i;

	for (i = 0; i < m->n; i++)
		if (m->v[i].p == p)
			return (&m->v[i]);
	return (NULL);
}

static const struct profile *
profile_named(struct manager *m, const char *name)
{
	const struct profile	*pf;
	size_t			 i;

	for (i = 0; i < m->profiles.n; i++) {
		pf = schema_list_at(&profile_schema, &m->profiles, i);
		if (strcmp(pf->name, name) == 0)
			return (pf);
	}
	return (profile_builtin(name));
}

/* Which pipeline serves (channel, variant): the main input, unless the
 * variant has an input of its own. */
static const char *
group_of(const struct channel *ch, const char *variant, int *found)
{
	const struct variant	*v;

	*found = 1;
	if (variant == NULL || variant[0] == '\0')
		return ("");
	if ((v = channel_variant(ch, variant)) == NULL) {
		*found = 0;
		return (NULL);
	}
	if (v->source != NULL || v->custom_ffmpeg.command != NULL ||
	    v->input_options.n > 0 || v->input_args.n > 0)
		return (v->name);
	return ("");
}

/* The channel id and the pipeline group serving variant; the caller
 * holds the lock.  Returns -1 with *cause when either is unknown. */
static int
lookup(struct manager *m, long long id, const char *variant,
    struct channel **ch, const char **group, char **cause)
{
	int	found;

	if ((*ch = find_channel(m, id)) == NULL) {
		*cause = xprintf("no stream %lld", id);
		return (-1);
	}
	*group = group_of(*ch, variant, &found);
	if (!found) {
		*cause = xprintf("stream %lld has no variant '%s'", id,
		    variant);
		return (-1);
	}
	return (0);
}

/* Adds a pipeline for (ch, group), shared (owner 0) or private with the
 * one rendition only, not yet started: launch() starts it once its
 * first outputs are wanted, so that the input's first keyframe already
 * finds them open (B3).  The caller holds the lock. */
static struct entry *
start(struct manager *m, const struct channel *ch, const char *group,
    const char *only, long long owner, char **cause)
{
	const struct profile	**pfs;
	struct pipeline		 *p;
	size_t			  i;
	int			  n = 0;

	pfs = xcalloc(ch->adaptive_bitrates.n + 1, sizeof *pfs);
	pfs[n++] = profile_named(m, ch->ffmpeg_profile ? ch->ffmpeg_profile :
	    "copy");
	for (i = 0; i < ch->adaptive_bitrates.n; i++) {
		const struct variant *v = schema_list_at(&variant_schema,
		    &ch->adaptive_bitrates, i);
		if (v->ffmpeg_profile != NULL)
			pfs[n++] = profile_named(m, v->ffmpeg_profile);
	}
	p = pipeline_new(ch, group, only, pfs, n, &m->limits, m->wake_fd,
	    cause);
	free(pfs);
	if (p == NULL)
		return (NULL);
	p->owner = owner;
	p->last_used = time(NULL);
	m->v = xreallocarray(m->v, m->n + 1, sizeof *m->v);
	memset(&m->v[m->n], 0, sizeof m->v[m->n]);
	m->v[m->n].p = p;
	return (&m->v[m->n++]);
}

/* Starts the thread of e, the entry start() added last; on failure the
 * entry goes and e is no longer valid.  The caller holds the lock. */
static int
launch(struct manager *m, struct entry *e, char **cause)
{
	if (pipeline_start(e->p, cause) == 0)
		return (0);
	pipeline_free(e->p);
	m->n--;
	return (-1);
}

/* The outputs an always-on channel keeps running. */
static unsigned
default_outputs(struct manager *m, const struct channel *ch)
{
	const struct profile	*pf;
	const char		*fmt = ch->output_format;
	unsigned		 o;

	if (fmt == NULL && (pf = profile_named(m, ch->ffmpeg_profile ?
	    ch->ffmpeg_profile : "copy")) != NULL)
		fmt = pf->output_format;
	o = output_from_name(fmt ? fmt : "hls");
	if (o == 0)
		o = OUTPUT_HLS;
	return (o);
}

static void
stop_entry(struct entry *e)
{
	if (!e->stopping) {
		e->stopping = 1;
		pipeline_stop(e->p);
	}
}

/* Stops a pipeline and waits for its thread, so that a successor never
 * writes the same folders at the same time; it is freed by the reaper
 * once no connection uses it. */
static void
retire(struct entry *e)
{
	stop_entry(e);
	if (e->p->thread_started) {
		pthread_join(e->p->thread, NULL);
		e->p->thread_started = 0;
	}
	e->removed = 1;
}

/* 1 if the pipeline runs something other than ch and its profiles say
 * now.  The programmes are not the pipeline's business. */
static int
changed(struct manager *m, struct pipeline *p, struct channel *ch)
{
	const struct profile	*pf;
	struct objlist		 progs;
	int			 r, differ;

	progs = ch->next_programs;
	memset(&ch->next_programs, 0, sizeof ch->next_programs);
	differ = !schema_equal(&channel_schema, ch, p->ch);
	ch->next_programs = progs;
	for (r = 0; !differ && r < p->nrend; r++) {
		if (p->rend[r].name[0] == '@')
			continue;
		pf = profile_named(m, p->rend[r].profile->name);
		differ = pf == NULL || !schema_equal(&profile_schema, pf,
		    p->rend[r].profile);
	}
	return (differ);
}

/* The recordings of a retired pipeline go on in its successor, in the
 * rendition of the same name (a later run checks that the streams still
 * match the file); the references they hold move with them.  The caller
 * holds the lock; the old thread has ended. */
static void
hand_over(struct manager *m, struct pipeline *old, struct entry *ne)
{
	struct recorder	*rec, **tail, **pp;
	struct entry	*oe = entry_of(m, old);
	int		 r, k;

	pthread_mutex_lock(&old->lock);
	old->replaced = 1;
	ne->p->successor = old->announced;
	for (r = 0; r < old->nrend; r++) {
		k = pipeline_rendition(ne->p, old->rend[r].name);
		for (pp = &old->rend[r].recs; (rec = *pp) != NULL; ) {
			if (k < 0 && rec->state != RECORD_DONE)
				record_stop_locked(rec, "its rendition went "
				    "away");
			if (rec->state == RECORD_DONE) {
				/* Stays for the main thread to report. */
				pp = &rec->next;
				continue;
			}
			*pp = rec->next;
			rec->next = NULL;
			__atomic_store_n(&rec->p, ne->p, __ATOMIC_RELEASE);
			pthread_mutex_lock(&ne->p->lock);
			for (tail = &ne->p->rend[k].recs; *tail != NULL;
			    tail = &(*tail)->next)
				;
			*tail = rec;
			ne->p->changed = 1;
			pthread_mutex_unlock(&ne->p->lock);
			ne->refs++;
			if (oe != NULL && oe->refs > 0)
				oe->refs--;
		}
	}
	pthread_mutex_unlock(&old->lock);
}

/* A changed channel: its pipeline stops and a new one takes over the
 * outputs it had.  Leases stay with the old one (their holders release
 * it); the new one's idle time starts now.  The caller holds the lock;
 * e is not valid afterwards. */
static void
replace(struct manager *m, struct entry *e, const struct channel *ch)
{
	struct pipeline	*old = e->p;
	struct entry	*ne;
	char		*why = NULL;
	int		 r, k;

	pthread_mutex_lock(&old->lock);
	old->keep_recordings = 1;
	pthread_mutex_unlock(&old->lock);
	retire(e);
	if ((ne = start(m, ch, old->group, NULL, 0, &why)) == NULL) {
		log_error("manager", "stream %lld: %s", ch->id, why);
		free(why);
		pthread_mutex_lock(&old->lock);
		old->keep_recordings = 0;
		pthread_mutex_unlock(&old->lock);
		record_end(old);
		return;
	}
	for (r = 0; r < old->nrend; r++) {
		k = pipeline_rendition(ne->p, old->rend[r].name);
		if (k >= 0 && old->rend[r].wanted != 0)
			pipeline_want(ne->p, k, old->rend[r].wanted);
	}
	hand_over(m, old, ne);
	if (launch(m, ne, &why) != 0) {
		log_error("manager", "stream %lld: %s", ch->id, why);
		free(why);
	}
}

/* always_on channels run without viewers, inside their window: started
 * when the catalogue is loaded and when a window opens.  The caller holds
 * the lock. */
static void
start_always_on(struct manager *m, int64_t now)
{
	struct entry	*e;
	char		*why = NULL;
	size_t		 i;

	for (i = 0; i < m->nch; i++) {
		if (!m->ch[i]->always_on || !channel_in_window(m->ch[i], now) ||
		    find_entry(m, m->ch[i]->id, "") != NULL)
			continue;
		if ((e = start(m, m->ch[i], "", NULL, 0, &why)) == NULL) {
			log_error("manager", "stream %lld: %s", m->ch[i]->id,
			    why);
			free(why);
			why = NULL;
			continue;
		}
		pipeline_want(e->p, 0, default_outputs(m, m->ch[i]));
		if (launch(m, e, &why) != 0) {
			log_error("manager", "stream %lld: %s", m->ch[i]->id,
			    why);
			free(why);
			why = NULL;
		}
	}
}

int
manager_load(struct manager *m, struct store *s, char **cause)
{
	struct channel	**v = NULL, *old;
	struct objlist	  profiles = { NULL, 0 };
	size_t		  n = 0, i;
	int64_t		  now = time(NULL);
	struct entry	 *e;
	char		 *why = NULL;

	if (!m->recovered) {
		/* What a streamd that died left, before anyone asks for a
		 * recording. */
		m->recovered = 1;
		record_recover(s, m->limits.media_root);
		if (clip_start(store_path(s), m->limits.media_root, &why) !=
		    0) {
			log_error("clip", "%s", why);
			free(why);
			why = NULL;
		} else
			m->clips = 1;
	}
	if (catalog_channels(s, NULL, &v, &n, cause) != 0)
		return (-1);
	if (catalog_profiles(s, &profiles, cause) != 0) {
		catalog_channels_free(v, n);
		return (-1);
	}
	pthread_mutex_lock(&m->lock);
	m->generation = store_generation(s);
	/* The new catalogue first: what is compared and started below. */
	catalog_channels_free(m->ch, m->nch);
	m->ch = v;
	m->nch = n;
	schema_list_free(&profile_schema, &m->profiles);
	m->profiles = profiles;
	/* Running pipelines whose channel changed or went away. */
	for (i = 0; i < m->n; i++) {
		e = &m->v[i];
		if (e->removed || e->stopping)
			continue;
		old = find_channel(m, e->p->id);
		if (old == NULL || !channel_in_window(old, now)) {
			log_info("manager", "stream %lld: %s; stopping",
			    e->p->id, old == NULL ? "removed" :
			    "outside its schedule");
			stop_entry(e);
			continue;
		}
		if (!changed(m, e->p, old))
			continue;
		if (e->p->owner != 0) {
			/* Its one viewer's stream ends; a new attach gets
			 * the channel as it is now. */
			log_info("manager", "stream %lld: changed; stopping "
			    "an overlap pipeline", e->p->id);
			stop_entry(e);
			continue;
		}
		log_info("manager", "stream %lld: changed; restarting",
		    e->p->id);
		replace(m, e, old);
	}
	start_always_on(m, now);
	pthread_mutex_unlock(&m->lock);
	return (0);
}

/* The name of the rendition of a pipeline of group that serves variant
 * and output. */
static const char *
rendition_name(const char *group, const char *variant, unsigned output)
{
	if (output & OUTPUT_AUDIO)
		return ("@audio");
	if (group[0] == '\0' && variant != NULL)
		return (variant);
	return ("");
}

/* manager_ensure and manager_ensure_private. */
static int
ensure(struct manager *m, long long id, const char *variant,
    unsigned output, int private, struct pipeline **pp, int *rend,
    char **cause)
{
	struct channel	*ch;
	struct entry	*e = NULL;
	const char	*group, *name;
	int		 r, fresh = 0, rc = -1;

	pthread_mutex_lock(&m->lock);
	if (lookup(m, id, variant, &ch, &group, cause) != 0)
		goto out;
	if (!channel_in_window(ch, time(NULL))) {
		*cause = xprintf("stream %lld is outside its schedule", id);
		goto out;
	}
	name = rendition_name(group, variant, output);
	if (!private && (e = find_entry(m, id, group)) != NULL &&
	    e->stopping) {
		/* Stopping (idle, or a stop command): a new one takes over
		 * at once. */
		retire(e);
		e = NULL;
	}
	if (e == NULL) {
		if ((e = start(m, ch, group, private ? name : NULL,
		    private ? ++m->next_owner : 0, cause)) == NULL)
			goto out;
		fresh = 1;
	}
	if ((r = pipeline_rendition(e->p, name)) < 0) {
		*cause = xprintf("stream %lld: no rendition '%s'", id,
		    variant);
		if (fresh) {
			pipeline_free(e->p);
			m->n--;
		} else if (private)
			stop_entry(e);
		goto out;
	}
	if (private)
		log_info("manager", "stream %lld: overlap pipeline %lld "
		    "started", id, e->p->owner);
	pthread_mutex_lock(&e->p->lock);
	e->p->last_used = time(NULL);
	if (e->p->state == PIPELINE_FAILED || e->p->state ==
	    PIPELINE_BACKOFF) {
		/* Someone wants it now: try at once. */
		e->p->restart = 1;
		e->p->failures = 0;
		pthread_cond_broadcast(&e->p->cond);
	}
	pthread_mutex_unlock(&e->p->lock);
	pipeline_want(e->p, r, output);
	if (fresh && launch(m, e, cause) != 0)
		goto out;
	e->refs++;
	*pp = e->p;
	*rend = r;
	rc = 0;
out:
	pthread_mutex_unlock(&m->lock);
	return (rc);
}

int
manager_ensure(struct manager *m, long long id, const char *variant,
    unsigned output, struct pipeline **pp, int *rend, char **cause)
{
	return (ensure(m, id, variant, output, 0, pp, rend, cause));
}

int
manager_ensure_private(struct manager *m, long long id,
    const char *variant, unsigned output, struct pipeline **pp, int *rend,
    char **cause)
{
	return (ensure(m, id, variant, output, 1, pp, rend, cause));
}

/* The recorder of row rec_id; the caller holds m->lock. */
static struct recorder *
find_recorder(struct manager *m, long long rec_id)
{
	struct recorder	*rec = NULL;
	struct pipeline	*p;
	size_t		 i;
	int		 r;

	for (i = 0; i < m->n && rec == NULL; i++) {
		p = m->v[i].p;
		pthread_mutex_lock(&p->lock);
		for (r = 0; r < p->nrend && rec == NULL; r++)
			for (rec = p->rend[r].recs; rec != NULL; rec = rec->next)
				if (rec->id == rec_id)
					break;
		pthread_mutex_unlock(&p->lock);
	}
	return (rec);
}

struct recorder *
manager_record_find(struct manager *m, long long rec_id)
{
	struct recorder	*rec;

	pthread_mutex_lock(&m->lock);
	if ((rec = find_recorder(m, rec_id)) != NULL) {
		pthread_mutex_lock(&rec->p->lock);
		rec->holds++;
		pthread_mutex_unlock(&rec->p->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return (rec);
}

int
manager_record_start(struct manager *m, long long id, const char *variant,
    long long rec_id, const char *format, double not_before, double stop_at,
    int hold, struct recorder **out, char **cause)
{
	struct recorder	*rec, **tail;
	struct pipeline	*p;
	int		 rend;

	if (variant != NULL && variant[0] == '\0')
		variant = NULL;
	if ((rec = manager_record_find(m, rec_id)) != NULL) {
		if (!hold)
			record_release(rec);
		*out = rec;
		return (0);
	}
	/* The reference ensure takes is the recording's until it ends. */
	if (ensure(m, id, variant, 0, 0, &p, &rend, cause) != 0)
		return (-1);
	rec = record_new(rec_id, id, variant, p->limits.media_root, format,
	    not_before, stop_at);
	rec->p = p;
	rec->holds = hold ? 1 : 0;
	pthread_mutex_lock(&p->lock);
	for (tail = &p->rend[rend].recs; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = rec;
	p->changed = 1;
	p->dirty = 1;
	p->last_used = time(NULL);
	pthread_mutex_unlock(&p->lock);
	log_info("manager", "stream %lld: recording %lld into %s%s", id,
	    rec_id, rec->file, not_before > record_now() ? " (timed)" : "");
	*out = rec;
	return (0);
}

void
manager_put(struct manager *m, struct pipeline *p)
{
	struct entry	*e;

	pthread_mutex_lock(&m->lock);
	if ((e = entry_of(m, p)) != NULL && e->refs > 0)
		e->refs--;
	if (e != NULL && e->refs == 0 && p->owner != 0 && !e->stopping) {
		/* A private pipeline lives as long as its connection. */
		log_info("manager", "stream %lld: overlap pipeline %lld: its "
		    "viewer left; stopping", p->id, p->owner);
		stop_entry(e);
	}
	pthread_mutex_unlock(&m->lock);
}

void
manager_lease(struct manager *m, struct pipeline *p, int delta)
{
	(void)m;
	pthread_mutex_lock(&p->lock);
	p->leases += delta;
	if (p->leases < 0)
		p->leases = 0;
	p->last_used = time(NULL);
	p->dirty = 1;
	pthread_mutex_unlock(&p->lock);
}

static int
each_match(struct manager *m, long long id, const char *variant, int stop,
    unsigned output, char **cause)
{
	struct channel	*ch;
	struct entry	*e;
	const char	*group;
	int		 rc = -1, r;

	pthread_mutex_lock(&m->lock);
	if (lookup(m, id, variant, &ch, &group, cause) != 0)
		goto out;
	if ((e = find_entry(m, id, group)) == NULL || e->stopping) {
		*cause = xprintf("stream %lld is not running", id);
		goto out;
	}
	if (stop && output != 0) {
		/* One output goes; the input and the others stay. */
		r = pipeline_rendition(e->p, rendition_name(group, variant,
		    output));
		if (r < 0) {
			*cause = xprintf("stream %lld: no rendition '%s'", id,
			    variant);
			goto out;
		}
		pipeline_unwant(e->p, r, output);
	} else if (stop)
		stop_entry(e);
	else
		pipeline_restart(e->p);
	rc = 0;
out:
	pthread_mutex_unlock(&m->lock);
	return (rc);
}

int
manager_restart(struct manager *m, long long id, const char *variant,
    char **cause)
{
	return (each_match(m, id, variant, 0, 0, cause));
}

int
manager_stop(struct manager *m, long long id, const char *variant,
    unsigned output, char **cause)
{
	return (each_match(m, id, variant, 1, output, cause));
}

static json_object *
outputs_json(struct pipeline *p)
{
	json_object	*a = json_object_new_array();
	unsigned	 bit;
	int		 r;
	char		 name[160];

	for (r = 0; r < p->nrend; r++) {
		for (bit = 1; bit <= OUTPUT_MASTER; bit <<= 1) {
			if (!(p->rend[r].ready & bit))
				continue;
			if (p->rend[r].name[0] == '\0' ||
			    p->rend[r].name[0] == '@')
				snprintf(name, sizeof name, "%s",
				    output_name(bit));
			else
				snprintf(name, sizeof name, "%s:%s",
				    output_name(bit), p->rend[r].name);
			json_object_array_add(a, json_object_new_string(name));
		}
	}
	return (a);
}

/* The recordings a pipeline writes or waits for; the caller holds
 * p->lock. */
static json_object *
recordings_json(struct pipeline *p)
{
	json_object	*a = json_object_new_array();
	struct recorder	*rec;
	int		 r;

	for (r = 0; r < p->nrend; r++)
		for (rec = p->rend[r].recs; rec != NULL; rec = rec->next)
			if (rec->state != RECORD_DONE)
				json_object_array_add(a,
				    json_object_new_int64(rec->id));
	return (a);
}

/* The status of one pipeline; the caller holds p->lock. */
static json_object *
status_json(struct pipeline *p)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "stream", json_object_new_int64(p->id));
	json_object_object_add(o, "variant",
	    json_object_new_string(p->group));
	json_object_object_add(o, "state",
	    json_object_new_string(pipeline_state_name(p->state)));
	json_object_object_add(o, "since", json_object_new_int64(p->since));
	json_object_object_add(o, "started",
	    json_object_new_int64(p->started));
	json_object_object_add(o, "pid", json_object_new_int64(p->child > 0 ?
	    p->child : getpid()));
	json_object_object_add(o, "restarts",
	    json_object_new_int64(p->restarts));
	json_object_object_add(o, "last_error", p->last_error ?
	    json_object_new_string(p->last_error) : NULL);
	json_object_object_add(o, "input_bitrate",
	    json_object_new_int64(p->input_bitrate));
	json_object_object_add(o, "fps", json_object_new_double(
	    (double)(int64_t)(p->fps * 100 + 0.5) / 100));
	json_object_object_add(o, "outputs", outputs_json(p));
	json_object_object_add(o, "viewers", json_object_new_int(p->leases));
	json_object_object_add(o, "overlap",
	    json_object_new_boolean(p->owner != 0));
	json_object_object_add(o, "recordings", recordings_json(p));
	return (o);
}

json_object *
manager_status(struct manager *m)
{
	json_object	*o, *a;
	size_t		 i;

	o = json_object_new_object();
	a = json_object_new_array();
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n; i++) {
		if (m->v[i].removed)
			continue;
		pthread_mutex_lock(&m->v[i].p->lock);
		json_object_array_add(a, status_json(m->v[i].p));
		pthread_mutex_unlock(&m->v[i].p->lock);
	}
	pthread_mutex_unlock(&m->lock);
	json_object_object_add(o, "pipelines", a);
	return (o);
}

/* One pipeline_status row. */
static void
store_status(struct store *s, struct pipeline *p, const char *state)
{
	sqlite3_stmt	*st;
	json_object	*out;
	char		*cause = NULL;

	st = store_prepare(s, "INSERT INTO pipeline_status (channel_id, "
	    "variant, state, since, restarts, last_error, input_bitrate, fps, "
	    "outputs, viewers, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (channel_id, variant) DO UPDATE SET "
	    "state = excluded.state, since = excluded.since, "
	    "restarts = excluded.restarts, last_error = excluded.last_error, "
	    "input_bitrate = excluded.input_bitrate, fps = excluded.fps, "
	    "outputs = excluded.outputs, viewers = excluded.viewers, "
	    "pid = excluded.pid", &cause);
	if (st == NULL) {
		log_error("store", "%s", cause);
		free(cause);
		return;
	}
	pthread_mutex_lock(&p->lock);
	out = state != NULL ? json_object_new_array() : outputs_json(p);
	sqlite3_bind_int64(st, 1, p->id);
	sqlite3_bind_text(st, 2, p->group, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, state ? state : pipeline_state_name(p->state),
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, p->since);
	sqlite3_bind_int64(st, 5, p->restarts);
	if (p->last_error != NULL)
		sqlite3_bind_text(st, 6, p->last_error, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_int64(st, 7, state ? 0 : p->input_bitrate);
	sqlite3_bind_double(st, 8, state ? 0 : p->fps);
	sqlite3_bind_text(st, 9, json_object_to_json_string_ext(out,
	    JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 10, state ? 0 : p->leases);
	sqlite3_bind_int64(st, 11, p->child > 0 ? p->child : getpid());
	p->dirty = 0;
	pthread_mutex_unlock(&p->lock);
	json_object_put(out);
	if (sqlite3_step(st) != SQLITE_DONE && sqlite3_errcode(
	    sqlite3_db_handle(st)) != SQLITE_CONSTRAINT)
		log_warn("store", "pipeline status: %s",
		    sqlite3_errmsg(sqlite3_db_handle(st)));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* The subject of a stream.* event. */
static json_object *
stream_subject(struct pipeline *p, const char *state, const char *error,
    unsigned restarts)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(p->id));
	json_object_object_add(o, "name", p->ch->name != NULL ?
	    json_object_new_string(p->ch->name) : NULL);
	json_object_object_add(o, "variant",
	    json_object_new_string(p->group));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "restarts", json_object_new_int64(restarts));
	json_object_object_add(o, "error", error != NULL ?
	    json_object_new_string(error) : NULL);
	return (o);
}

/* The status row of a shared pipeline (state NULL: as it is) and the
 * webhook events (A5) of what changed since the last one, in one
 * transaction:
 *   stream.started    its first run reached running;
 *   stream.failed     a run ended with an error (once per failed run:
 *                     the input failed, ended or stalled; the pipeline
 *                     then backs off, or gives up after max_failures);
 *   stream.restarted  a later run reached running (after a failure, a
 *                     restart asked for, or a changed channel);
 *   stream.stopped    it stopped (idle, asked, its window ended, removed,
 *                     streamd stopping), having started. */
static void
status_events(struct store *s, struct pipeline *p, const char *state)
{
	const char	*ev[4];
	json_object	*o;
	unsigned	 runs, failed, restarts;
	char		*error, *cause = NULL;
	const char	*now;
	int		 nev = 0, first, i;

	pthread_mutex_lock(&p->lock);
	runs = p->runs_started;
	failed = p->failed_runs;
	restarts = p->restarts;
	now = state != NULL ? state : pipeline_state_name(p->state);
	error = p->last_error != NULL ? xstrdup(p->last_error) : NULL;
	pthread_mutex_unlock(&p->lock);
	first = !p->announced && runs > 0;
	if (first)
		ev[nev++] = p->successor ? "stream.restarted" :
		    "stream.started";
	if (failed > p->seen_failed)
		ev[nev++] = "stream.failed";
	if (runs > p->seen_runs + (first ? 1 : 0) && (p->announced || first))
		ev[nev++] = "stream.restarted";
	if (state != NULL && strcmp(state, "stopped") == 0 &&
	    (p->announced || first) && !p->replaced)
		ev[nev++] = "stream.stopped";
	if (nev == 0 || store_begin(s, &cause) != 0) {
		if (cause != NULL) {
			log_error("store", "%s", cause);
			free(cause);
		}
		store_status(s, p, state);
		free(error);
		return;
	}
	store_status(s, p, state);
	for (i = 0; i < nev; i++) {
		o = stream_subject(p, strcmp(ev[i], "stream.failed") == 0 ?
		    "failed" : now, strcmp(ev[i], "stream.failed") == 0 ||
		    strcmp(ev[i], "stream.stopped") == 0 ? error : NULL,
		    restarts);
		if (outbox_emit(s, ev[i], o, &cause) < 0) {
			log_error("webhook", "%s: %s", ev[i], cause);
			free(cause);
			cause = NULL;
		}
		json_object_put(o);
	}
	if (store_commit(s, &cause) != 0) {
		log_error("store", "%s", cause);
		free(cause);
		store_rollback(s);
	}
	p->announced |= first;
	p->seen_runs = runs;
	p->seen_failed = failed;
	free(error);
}

/* Recordings: the ones whose stop time came or whose source gave up are
 * stopped; the rows of those that started and ended are written (their
 * events with them); ended ones let their pipeline go.  A recorder that a
 * control connection holds waits for it.  With final (streamd stops),
 * rows only.  The caller holds no lock. */
static void
recordings(struct manager *m, struct store *s, int final)
{
	struct recorder	**started = NULL, **ended = NULL, *rec, **pp;
	struct pipeline	 *p;
	struct entry	 *e;
	size_t		  nstarted = 0, nended = 0, i;
	double		  now = record_now();
	char		 *why;
	int		  r;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n; i++) {
		p = m->v[i].p;
		pthread_mutex_lock(&p->lock);
		for (r = 0; r < p->nrend; r++) {
			for (pp = &p->rend[r].recs; (rec = *pp) != NULL; ) {
				if (rec->state != RECORD_DONE && !rec->stop &&
				    rec->stop_at > 0 && now >= rec->stop_at)
					record_stop_locked(rec, NULL);
				else if (rec->state != RECORD_DONE &&
				    !rec->stop && p->state == PIPELINE_FAILED) {
					why = xprintf("the source failed: %s",
					    p->last_error ? p->last_error :
					    "?");
					record_stop_locked(rec, why);
					free(why);
				}
				if (rec->holds > 0 && !final) {
					pp = &rec->next;
					continue;
				}
				if (rec->started != 0 && !rec->reported &&
				    !rec->quiet) {
					rec->reported = 1;
					started = xreallocarray(started,
					    nstarted + 1, sizeof *started);
					started[nstarted++] = rec;
				}
				if (rec->state == RECORD_DONE) {
					ended = xreallocarray(ended, nended + 1,
					    sizeof *ended);
					ended[nended++] = rec;
					if (!final) {
						*pp = rec->next;
						continue;
					}
				}
				pp = &rec->next;
			}
		}
		pthread_mutex_unlock(&p->lock);
	}
	for (i = 0; i < nstarted; i++) {
		if (record_row_started(s, started[i]) == ENOENT &&
		    started[i]->state != RECORD_DONE) {
			/* Its row went (cancelled): so does the file. */
			log_warn("record", "recording %lld: its row is gone; "
			    "stopping it", started[i]->id);
			started[i]->discard = 1;
			record_stop(started[i], NULL);
		}
	}
	for (i = 0; i < nended; i++) {
		rec = ended[i];
		record_row_finished(s, rec);
		if (final)
			continue;
		if ((e = entry_of(m, rec->p)) != NULL && e->refs > 0)
			e->refs--;
		pthread_mutex_lock(&rec->p->lock);
		rec->p->last_used = time(NULL);	/* idle from now */
		rec->p->dirty = 1;
		pthread_mutex_unlock(&rec->p->lock);
		record_free(rec);
	}
	pthread_mutex_unlock(&m->lock);
	free(started);
	free(ended);
}

/* Timed recordings whose start is near: their channel starts, and they
 * wait for their start.  One that cannot start fails. */
static void
schedule(struct manager *m, struct store *s)
{
	struct record_due	*d;
	struct recorder		*rec;
	size_t			 n, i;
	int64_t			 now = time(NULL);
	char			*cause = NULL;

	if (record_due(s, now + RECORD_PREROLL, &d, &n) != 0)
		return;
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&m->lock);
		rec = find_recorder(m, d[i].id);
		pthread_mutex_unlock(&m->lock);
		if (rec != NULL)
			continue;
		if (d[i].channel == 0)
			record_row_fail(s, d[i].id, "its channel was deleted");
		else if (d[i].stop_at > 0 && d[i].stop_at <= now)
			record_row_fail(s, d[i].id, "its time passed before "
			    "it could start");
		else if (manager_record_start(m, d[i].channel, d[i].variant,
		    d[i].id, d[i].format, (double)d[i].start_at,
		    (double)d[i].stop_at, 0, &rec, &cause) != 0) {
			record_row_fail(s, d[i].id, cause);
			free(cause);
			cause = NULL;
		}
	}
	record_due_free(d, n);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return (0);
}

static void
remove_folders(struct manager *m, long long id)
{
	char	path[4096];

	snprintf(path, sizeof path, "%s/hls/%lld", m->limits.media_root, id);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(path, sizeof path, "%s/dash/%lld", m->limits.media_root, id);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* 1 while a shared pipeline of the channel runs (private ones have no
 * folders and no status rows). */
static int
running(struct manager *m, long long id)
{
	size_t	i;

	for (i = 0; i < m->n; i++)
		if (!m->v[i].removed && m->v[i].p->owner == 0 &&
		    m->v[i].p->id == id)
			return (1);
	return (0);
}

void
manager_housekeep(struct manager *m, struct store *s)
{
	struct pipeline	**done = NULL;
	size_t		  ndone = 0, i, k;
	int64_t		  now = time(NULL);
	struct entry	 *e;
	struct channel	 *ch;
	char		 *cause = NULL;
	int		  idle;

	/* API changes (and schedule windows) apply without a reload. */
	if (now_us() >= m->next_check) {
		m->next_check = now_us() + 2000000;
		if (store_generation(s) != m->generation &&
		    manager_load(m, s, &cause) != 0) {
			log_error("manager", "%s", cause);
			free(cause);
			cause = NULL;
		}
		pthread_mutex_lock(&m->lock);
		for (i = 0; i < m->n; i++) {
			e = &m->v[i];
			if (e->removed || e->stopping)
				continue;
			ch = find_channel(m, e->p->id);
			if (ch != NULL && !channel_in_window(ch, now)) {
				log_info("manager", "stream %lld: its "
				    "schedule ended; stopping", e->p->id);
				stop_entry(e);
			}
		}
		/* And those whose window opened. */
		start_always_on(m, now);
		pthread_mutex_unlock(&m->lock);
	}

	if (now_us() >= m->next_schedule) {
		m->next_schedule = now_us() + 1000000;
		schedule(m, s);
	}
	recordings(m, s, 0);

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n; i++) {
		e = &m->v[i];
		pthread_mutex_lock(&e->p->lock);
		idle = !e->stopping && !e->p->ch->always_on &&
		    e->p->owner == 0 && e->p->leases == 0 && e->refs == 0 &&
		    now - e->p->last_used >= m->idle_timeout;
		pthread_mutex_unlock(&e->p->lock);
		if (idle) {
			log_info("manager", "stream %lld: no viewers for %d s; "
			    "stopping", e->p->id, m->idle_timeout);
			stop_entry(e);
		}
	}
	/* Reap the pipelines whose thread has ended. */
	for (i = 0; i < m->n; ) {
		e = &m->v[i];
		pthread_mutex_lock(&e->p->lock);
		idle = e->p->done && e->refs == 0;
		pthread_mutex_unlock(&e->p->lock);
		if (!idle) {
			i++;
			continue;
		}
		done = xreallocarray(done, ndone + 1, sizeof *done);
		done[ndone++] = e->p;
		memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) *
		    sizeof *m->v);
		m->n--;
	}
	pthread_mutex_unlock(&m->lock);

	for (i = 0; i < ndone; i++) {
		if (done[i]->thread_started) {
			pthread_join(done[i]->thread, NULL);
			done[i]->thread_started = 0;
		}
		pthread_mutex_lock(&m->lock);
		if (done[i]->owner == 0 && !running(m, done[i]->id)) {
			status_events(s, done[i], "stopped");
			m->cl = xreallocarray(m->cl, m->ncl + 1, sizeof *m->cl);
			m->cl[m->ncl].id = done[i]->id;
			m->cl[m->ncl].at = now + m->cleanup_delay;
			m->ncl++;
		}
		pthread_mutex_unlock(&m->lock);
		pipeline_free(done[i]);
	}
	free(done);

	/* Status rows of the live ones. */
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n; i++)
		if (!m->v[i].removed && m->v[i].p->owner == 0 &&
		    m->v[i].p->dirty)
			status_events(s, m->v[i].p, NULL);
	/* Folders of channels stopped long enough ago. */
	for (i = 0; i < m->ncl; ) {
		if (m->cl[i].at > now) {
			i++;
			continue;
		}
		if (!running(m, m->cl[i].id))
			remove_folders(m, m->cl[i].id);
		for (k = i + 1; k < m->ncl; k++)
			m->cl[k - 1] = m->cl[k];
		m->ncl--;
	}
	pthread_mutex_unlock(&m->lock);
}

void
manager_shutdown(struct manager *m, struct store *s)
{
	size_t	i;

	if (m->clips) {
		clip_stop();
		m->clips = 0;
	}
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n; i++)
		stop_entry(&m->v[i]);
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < m->n; i++) {
		if (m->v[i].p->thread_started) {
			pthread_join(m->v[i].p->thread, NULL);
			m->v[i].p->thread_started = 0;
		}
	}
	/* Every recording is finalised now: its row says so. */
	if (s != NULL)
		recordings(m, s, 1);
	for (i = 0; i < m->n; i++)
		if (s != NULL && !m->v[i].removed && m->v[i].p->owner == 0)
			status_events(s, m->v[i].p, "stopped");
}

void
manager_free(struct manager *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		pipeline_free(m->v[i].p);
	free(m->v);
	catalog_channels_free(m->ch, m->nch);
	schema_list_free(&profile_schema, &m->profiles);
	free(m->cl);
	free(m->limits.media_root);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
