#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/opt.h>
#include <libavutil/parseutils.h>
#include <libavutil/time.h>

#include "buf.h"
#include "log.h"
#include "spawn.h"
#include "streamd.h"
#include "timefmt.h"
#include "xmalloc.h"

#define PIPE_BUFSIZE	65536

int64_t
now_us(void)
{
	return (timefmt_monotonic_us());
}

static int
asked_to_stop(struct pipeline *p)
{
	return (__atomic_load_n(&p->stop, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&p->restart, __ATOMIC_RELAXED));
}

/* libav's interrupt callback: a stop request or a passed deadline ends
 * whatever blocking call the input is in. */
static int
interrupted(void *arg)
{
	struct input	*in = arg;

	return (asked_to_stop(in->p) || now_us() > in->deadline);
}

/* Reads custom_ffmpeg's stdout with poll, so that the deadline and a stop
 * request are noticed while the child is silent. */
static int
pipe_read(void *arg, uint8_t *data, int size)
{
	struct input	*in = arg;
	struct pollfd	 pfd;
	ssize_t		 n;

	for (;;) {
		if (interrupted(in))
			return (AVERROR_EXIT);
		pfd.fd = in->pipe_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			return (AVERROR(errno));
		if (pfd.revents == 0)
			continue;
		n = read(in->pipe_fd, data, (size_t)size);
		if (n > 0)
			return ((int)n);
		if (n == 0)
			return (AVERROR_EOF);
		if (errno != EINTR && errno != EAGAIN)
			return (AVERROR(errno));
	}
}

/* "90", "1:30", "00:01:30.5" -> AV_TIME_BASE units; -1 if malformed. */
static int64_t
parse_time(const char *s)
{
	int64_t	t;

	if (av_parse_time(&t, s, 1) < 0 || t < 0)
		return (-1);
	return (t);
}

/* Applies input_args: -re, -stream_loop N, -ss T and -f FMT are taken
 * here; any other "-key value" pair is a demuxer or protocol option, as
 * on the ffmpeg command line. */
static int
apply_args(struct input *in, const struct strlist *args, AVDictionary **opts,
    const char **format, char **cause)
{
	const char	*a, *v;
	char		*end;
	size_t		 i;
	long		 n;

	for (i = 0; i < args->n; i++) {
		a = args->v[i];
		if (strcmp(a, "-re") == 0) {
			in->re = 1;
			continue;
		}
		if (a[0] != '-' || a[1] == '\0' || i + 1 >= args->n) {
			*cause = xprintf("input_args: '%s' is not an option "
			    "with a value", a);
			return (-1);
		}
		v = args->v[++i];
		if (strcmp(a, "-stream_loop") == 0) {
			errno = 0;
			n = strtol(v, &end, 10);
			if (errno != 0 || *end != '\0' || n < -1) {
				*cause = xprintf("input_args: -stream_loop "
				    "'%s' is not a count (-1 = for ever)", v);
				return (-1);
			}
			in->loops = (int)n;
		} else if (strcmp(a, "-ss") == 0) {
			if ((in->seek = parse_time(v)) < 0) {
				*cause = xprintf("input_args: -ss '%s' is not "
				    "a time", v);
				return (-1);
			}
		} else if (strcmp(a, "-f") == 0)
			*format = v;
		else
			av_dict_set(opts, a + 1, v, 0);
	}
	return (0);
}

/* What this pipeline opens: the channel's input or its variant's. */
struct source {
	const char		*url;
	const struct custom_cmd	*cmd;
	const struct kvlist	*options;
	const struct strlist	*args;
};

static void
pick_source(struct pipeline *p, struct source *src)
{
	const struct variant	*v = NULL;

	src->url = p->ch->source;
	src->cmd = &p->ch->custom_ffmpeg;
	src->options = &p->ch->input_options;
	src->args = &p->ch->input_args;
	if (p->group[0] != '\0')
		v = channel_variant(p->ch, p->group);
	if (v == NULL)
		return;
	if (v->source != NULL)
		src->url = v->source;
	if (v->custom_ffmpeg.command != NULL)
		src->cmd = &v->custom_ffmpeg;
	if (v->input_options.n > 0)
		src->options = &v->input_options;
	if (v->input_args.n > 0)
		src->args = &v->input_args;
}

/* yt-dlp (S7): the page URL is resolved again at every start. */
static int
resolve_ytdlp(struct pipeline *p, const char *url, AVDictionary **opts,
    char **resolved, char **cause)
{
	struct ytdlp_result	 r;
	const struct kvlist	*o = &p->ch->source_handler.options;
	const char		*format = p->ch->yt_dlp_format;
	struct buf		 h = BUF_INIT;
	size_t			 i;

	if (p->ch->source_handler.format != NULL)
		format = p->ch->source_handler.format;
	memset(&r, 0, sizeof r);
	if (spawn_ytdlp(url, format, o, p->limits.input_timeout * 1000, &r,
	    cause) != 0)
		return (-1);
	for (i = 0; i < r.headers.n; i++)
		buf_addf(&h, "%s: %s\r\n", r.headers.v[i].key,
		    r.headers.v[i].value);
	if (h.len > 0)
		av_dict_set(opts, "headers", h.data, 0);
	buf_free(&h);
	*resolved = xstrdup(r.url);
	spawn_ytdlp_free(&r);
	log_info("input", "stream %lld: yt-dlp resolved the source",
	    p->id);
	return (0);
}

static int
start_command(struct input *in, struct pipeline *p,
    const struct custom_cmd *cmd, const char *url, char **cause)
{
	struct spawn	 sp;
	char		**argv;
	int		 fd;

	argv = spawn_command_argv(cmd->command, cmd->shell, url ? url : "",
	    p->id, p->ch->name ? p->ch->name : "", cause);
	if (argv == NULL)
		return (-1);
	memset(&sp, 0, sizeof sp);
	sp.argv = argv;
	sp.cwd = cmd->cwd;
	sp.env = &cmd->env;
	sp.want_stdout = 1;
	sp.want_stdin_null = 1;
	in->child = spawn_start(&sp, &fd, cause);
	spawn_argv_free(argv);
	if (in->child < 0) {
		in->child = 0;
		return (-1);
	}
	in->pipe_fd = fd;
	pthread_mutex_lock(&p->lock);
	p->child = in->child;
	pthread_mutex_unlock(&p->lock);
	log_info("input", "stream %lld: custom command started (pid %ld)",
	    p->id, (long)in->child);
	return (0);
}

static const char *
averr(int err, char *buf, size_t size)
{
	av_strerror(err, buf, size);
	return (buf);
}

int
input_open(struct input *in, struct pipeline *p, char **cause)
{
	const AVInputFormat	*fmt = NULL;
	AVDictionary		*opts = NULL;
	struct source		 src;
	const char		*format;
	char			*resolved = NULL, eb[128];
	unsigned char		*iobuf;
	size_t			 i;
	int			 err, rc = -1;

	memset(in, 0, sizeof *in);
	in->p = p;
	in->pipe_fd = -1;
	in->video = in->audio = -1;
	in->timeout_us = p->limits.input_timeout * 1000000;
	in->deadline = now_us() + in->timeout_us;

	pick_source(p, &src);
	format = p->ch->input_format;
	for (i = 0; i < src.options->n; i++)
		av_dict_set(&opts, src.options->v[i].key,
		    src.options->v[i].value, 0);
	if (apply_args(in, src.args, &opts, &format, cause) != 0)
		goto out;
	if (src.url != NULL && src.cmd->command == NULL &&
	    (p->ch->use_yt_dlp || (p->ch->source_handler.type != NULL &&
	    strcmp(p->ch->source_handler.type, "yt_dlp") == 0))) {
		if (resolve_ytdlp(p, src.url, &opts, &resolved, cause) != 0)
			goto out;
		src.url = resolved;
	}

	if ((in->ic = avformat_alloc_context()) == NULL) {
		*cause = xstrdup("out of memory");
		goto out;
	}
	in->ic->interrupt_callback.callback = interrupted;
	in->ic->interrupt_callback.opaque = in;

	if (src.cmd->command != NULL) {
		/* custom_ffmpeg: its MPEG-TS stdout is the input. */
		if (start_command(in, p, src.cmd, src.url, cause) != 0)
			goto out;
		iobuf = av_malloc(PIPE_BUFSIZE);
		in->pipe_io = avio_alloc_context(iobuf, PIPE_BUFSIZE, 0, in,
		    pipe_read, NULL, NULL);
		if (iobuf == NULL || in->pipe_io == NULL) {
			av_free(iobuf);
			*cause = xstrdup("out of memory");
			goto out;
		}
		in->ic->pb = in->pipe_io;
		if (format == NULL)
			format = "mpegts";
	} else if (src.url == NULL) {
		*cause = xstrdup("the channel has no source");
		goto out;
	}
	if (format != NULL && (fmt = av_find_input_format(format)) == NULL) {
		*cause = xprintf("unknown input format '%s'", format);
		goto out;
	}
	err = avformat_open_input(&in->ic, src.cmd->command != NULL ?
	    "pipe:" : src.url, fmt, &opts);
	if (err < 0) {
		*cause = xprintf("%s: %s", src.cmd->command != NULL ?
		    "custom_ffmpeg" : src.url, now_us() > in->deadline ?
		    "timed out opening the input" : averr(err, eb,
		    sizeof eb));
		goto out;
	}
	if ((err = avformat_find_stream_info(in->ic, NULL)) < 0) {
		*cause = xprintf("no stream information: %s",
		    averr(err, eb, sizeof eb));
		goto out;
	}
	in->video = av_find_best_stream(in->ic, AVMEDIA_TYPE_VIDEO, -1, -1,
	    NULL, 0);
	in->audio = av_find_best_stream(in->ic, AVMEDIA_TYPE_AUDIO, -1, -1,
	    NULL, 0);
	if (in->video < 0)
		in->video = -1;
	if (in->audio < 0)
		in->audio = -1;
	if (p->ch->audio_only)
		in->video = -1;
	if (in->video < 0 && in->audio < 0) {
		*cause = xstrdup("the input has neither video nor audio");
		goto out;
	}
	if (in->seek > 0) {
		err = avformat_seek_file(in->ic, -1, INT64_MIN, in->seek +
		    (in->ic->start_time != AV_NOPTS_VALUE ?
		    in->ic->start_time : 0), INT64_MAX, 0);
		if (err < 0)
			log_warn("input", "stream %lld: -ss: %s", p->id,
			    averr(err, eb, sizeof eb));
	}
	in->rate_since = now_us();
	rc = 0;
out:
	av_dict_free(&opts);
	free(resolved);
	if (rc != 0)
		input_close(in);
	return (rc);
}

/* -stream_loop: back to the start, with timestamps that go on after the
 * end of the pass before. */
static int
loop_again(struct input *in)
{
	int64_t	start;

	if (in->loops == 0)
		return (-1);
	if (in->loops > 0)
		in->loops--;
	start = in->ic->start_time != AV_NOPTS_VALUE ? in->ic->start_time :
	    0;
	if (avformat_seek_file(in->ic, -1, INT64_MIN, start + in->seek,
	    INT64_MAX, 0) < 0)
		return (-1);
	in->loop_offset = in->loop_end - start;
	return (0);
}

int
input_read(struct input *in, AVPacket *pkt, char **cause)
{
	AVStream	*st;
	int64_t		 ts, end, wait, now;
	char		 eb[128];
	int		 err, looped = 0;

	for (;;) {
		if (asked_to_stop(in->p))
			return (AVERROR_EXIT);
		in->deadline = now_us() + (int64_t)in->p->limits.stall_timeout *
		    1000000;
		err = av_read_frame(in->ic, pkt);
		if (err == AVERROR_EOF || (err == AVERROR(EIO) &&
		    avio_feof(in->ic->pb))) {
			if (!looped && loop_again(in) == 0) {
				looped = 1;
				continue;
			}
			return (AVERROR_EOF);
		}
		if (err < 0) {
			if (asked_to_stop(in->p))
				return (AVERROR_EXIT);
			if (now_us() > in->deadline)
				*cause = xprintf("no data for %d s",
				    in->p->limits.stall_timeout);
			else
				*cause = xprintf("read: %s", averr(err, eb,
				    sizeof eb));
			return (err);
		}
		looped = 0;
		if (pkt->stream_index != in->video &&
		    pkt->stream_index != in->audio) {
			av_packet_unref(pkt);
			continue;
		}
		break;
	}
	st = in->ic->streams[pkt->stream_index];
	in->bytes += pkt->size;
	if (pkt->stream_index == in->video)
		in->frames++;
	ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
	if (ts != AV_NOPTS_VALUE) {
		ts = av_rescale_q(ts, st->time_base, AV_TIME_BASE_Q);
		end = ts + av_rescale_q(pkt->duration, st->time_base,
		    AV_TIME_BASE_Q) + in->loop_offset;
		if (end > in->loop_end)
			in->loop_end = end;
		if (in->loop_offset != 0) {
			int64_t off = av_rescale_q(in->loop_offset,
			    AV_TIME_BASE_Q, st->time_base);
			if (pkt->pts != AV_NOPTS_VALUE)
				pkt->pts += off;
			if (pkt->dts != AV_NOPTS_VALUE)
				pkt->dts += off;
			ts += in->loop_offset;
		}
		if (in->re) {
			/* Read at the input's own rate (-re). */
			now = now_us();
			if (in->pace_wall == 0 || ts < in->pace_ts ||
			    ts - in->pace_ts > 10 * (int64_t)AV_TIME_BASE) {
				in->pace_wall = now;
				in->pace_ts = ts;
			}
			wait = (ts - in->pace_ts) - (now - in->pace_wall);
			while (wait > 0 && !asked_to_stop(in->p)) {
				av_usleep((unsigned)(wait > 100000 ? 100000 :
				    wait));
				wait -= 100000;
			}
		}
	}
	return (0);
}

void
input_close(struct input *in)
{
	if (in->ic != NULL)
		avformat_close_input(&in->ic);
	if (in->pipe_io != NULL) {
		av_freep(&in->pipe_io->buffer);
		avio_context_free(&in->pipe_io);
	}
	if (in->pipe_fd >= 0) {
		close(in->pipe_fd);
		in->pipe_fd = -1;
	}
	if (in->child > 0) {
		spawn_stop(in->child, 2000);
		in->child = 0;
		pthread_mutex_lock(&in->p->lock);
		in->p->child = 0;
		pthread_mutex_unlock(&in->p->lock);
	}
}
