/* Parsing and formatting of times.  Everything inside amps is UTC epoch
 * seconds (int64_t); these functions are the only conversions to text.
 * ISO 8601 / RFC 3339 for the config and the API, and the XMLTV format
 * ("YYYYMMDDhhmmss +zzzz", see the XMLTV DTD) for guides. */
#ifndef AMPS_TIMEFMT_H
#define AMPS_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Size of a buffer large enough for any formatted time. */
#define TIMEFMT_BUFSIZE 32

/* Accepts "YYYY-MM-DDTHH:MM:SSZ", "YYYY-MM-DDTHH:MM:SS+hh:mm" (or -hh:mm,
 * +hhmm), fractional seconds (ignored), a space instead of 'T', and
 * "YYYY-MM-DD" (midnight UTC).  A time without a zone is rejected: it would
 * be ambiguous.  Every field is range checked (month 1-12, day valid for
 * the month, leap years, hour 0-23, ...).  Returns 0 and sets *out, or -1
 * (out untouched). */
int	 timefmt_parse_iso8601(const char *s, int64_t *out);
/* Writes "YYYY-MM-DDTHH:MM:SSZ" into buf (at least TIMEFMT_BUFSIZE). */
char	*timefmt_format_iso8601(int64_t t, char *buf, size_t size);

/* Accepts the XMLTV date forms: "YYYYMMDDhhmmss +zzzz", also with fewer
 * trailing fields ("YYYYMMDDhhmm", "YYYYMMDD") and without a zone (taken
 * as UTC, as tv_validate_file does).  Returns 0 and sets *out, or -1. */
int	 timefmt_parse_xmltv(const char *s, int64_t *out);
/* Writes "YYYYMMDDhhmmss +0000". */
char	*timefmt_format_xmltv(int64_t t, char *buf, size_t size);

/* Days-from-civil: UTC broken-down time to epoch seconds without touching
 * the process time zone.  Returns 0, or -1 if a field is out of range. */
int	 timefmt_from_utc(int year, int mon, int day, int hour, int min,
	    int sec, int64_t *out);

/* The monotonic clock in microseconds, for timeouts and rates. */
int64_t	 timefmt_monotonic_us(void);

#endif
