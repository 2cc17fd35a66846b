#include "config.h"

#include <time.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

#define SECS_PER_DAY	86400
#define YEAR_MIN	0
#define YEAR_MAX	9999

struct civil {
	int64_t	year;
	int	mon;
	int	day;
	int	hour;
	int	min;
	int	sec;
};

static int
is_leap(int64_t year)
{
	return ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0);
}

static int
days_in_month(int64_t year, int mon)
{
	static const int	days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (mon == 2 && is_leap(year))
		return (29);
	return (days[mon - 1]);
}

/* Howard Hinnant's days_from_civil: days since 1970-01-01 in the
 * proleptic Gregorian calendar, with eras of 400 years. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

/* The inverse, civil_from_days. */
static void
civil_from_days(int64_t z, struct civil *c)
{
	int64_t	era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	c->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	c->year = yoe + era * 400 + (c->mon <= 2);
}

/* Splits epoch seconds with floor division, so times before 1970 work. */
static void
to_civil(int64_t t, struct civil *c)
{
	int64_t	days, secs;

	days = t / SECS_PER_DAY;
	secs = t % SECS_PER_DAY;
	if (secs < 0) {
		secs += SECS_PER_DAY;
		days--;
	}
	civil_from_days(days, c);
	c->hour = (int)(secs / 3600);
	c->min = (int)(secs / 60 % 60);
	c->sec = (int)(secs % 60);
}

/* Reads exactly n ASCII digits (isdigit would follow the locale). */
static int
digits(const char *s, int n, int *out)
{
	int	i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return (0);
}

/* Reads a zone offset "+hh:mm", "+hhmm" (or '-'); colon says whether the
 * colon form is accepted.  Returns the number of characters used, or -1. */
static int
parse_offset(const char *s, int colon, int *offset)
{
	int	sign, hh, mm, used;

	if (*s == '+')
		sign = 1;
	else if (*s == '-')
		sign = -1;
	else
		return (-1);
	if (digits(s + 1, 2, &hh) != 0)
		return (-1);
	if (colon && s[3] == ':') {
		if (digits(s + 4, 2, &mm) != 0)
			return (-1);
		used = 6;
	} else {
		if (digits(s + 3, 2, &mm) != 0)
			return (-1);
		used = 5;
	}
	if (hh > 23 || mm > 59)
		return (-1);
	*offset = sign * (hh * 3600 + mm * 60);
	return (used);
}

/* Every conversion from a broken-down time goes through here, so the
 * range checks are in one place and TZ is never consulted. */
int
timefmt_from_utc(int year, int mon, int day, int hour, int min, int sec,
    int64_t *out)
{
	if (year < YEAR_MIN || year > YEAR_MAX)
		return (-1);
	if (mon < 1 || mon > 12)
		return (-1);
	if (day < 1 || day > days_in_month(year, mon))
		return (-1);
	if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 ||
	    sec > 59)
		return (-1);
	*out = days_from_civil(year, mon, day) * SECS_PER_DAY +
	    hour * 3600 + min * 60 + sec;
	return (0);
}

/* A zone offset may carry a valid local date out of years 0000-9999;
 * such a time could not be written back, so it is refused. */
static int
in_range(int64_t t, int64_t *out)
{
	int64_t	lo, hi;

	if (timefmt_from_utc(0, 1, 1, 0, 0, 0, &lo) != 0 ||
	    timefmt_from_utc(9999, 12, 31, 23, 59, 59, &hi) != 0 ||
	    t < lo || t > hi)
		return (-1);
	*out = t;
	return (0);
}

/* RFC 3339 profile of ISO 8601, as used by the config and the REST API. */
int
timefmt_parse_iso8601(const char *s, int64_t *out)
{
	int	year, mon, day, hour = 0, min = 0, sec = 0, offset = 0, n;
	int64_t	t;

	if (s == NULL)
		return (-1);
	if (digits(s, 4, &year) != 0 || s[4] != '-' ||
	    digits(s + 5, 2, &mon) != 0 || s[7] != '-' ||
	    digits(s + 8, 2, &day) != 0)
		return (-1);
	s += 10;

	if (*s != '\0') {
		if (*s != 'T' && *s != 't' && *s != ' ')
			return (-1);
		s++;
		if (digits(s, 2, &hour) != 0 || s[2] != ':' ||
		    digits(s + 3, 2, &min) != 0 || s[5] != ':' ||
		    digits(s + 6, 2, &sec) != 0)
			return (-1);
		s += 8;
		if (*s == '.' || *s == ',') {
			s++;
			if (*s < '0' || *s > '9')
				return (-1);
			while (*s >= '0' && *s <= '9')
				s++;
		}
		if (*s == 'Z' || *s == 'z')
			s++;
		else {
			/* No zone at all is rejected here too. */
			if ((n = parse_offset(s, 1, &offset)) < 0)
				return (-1);
			s += n;
		}
		if (*s != '\0')
			return (-1);
	}

	if (timefmt_from_utc(year, mon, day, hour, min, sec, &t) != 0)
		return (-1);
	return (in_range(t - offset, out));
}

/* The one output form: RFC 3339 in UTC with a 'Z'. */
char *
timefmt_format_iso8601(int64_t t, char *buf, size_t size)
{
	struct civil	c;

	to_civil(t, &c);
	snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02dZ",
	    (long long)c.year, c.mon, c.day, c.hour, c.min, c.sec);
	return (buf);
}

/* The XMLTV DTD's date form: "YYYYMMDDhhmmss +zzzz", which may be cut
 * after any field from the year on; the zone is optional. */
int
timefmt_parse_xmltv(const char *s, int64_t *out)
{
	int		 f[6] = { 0, 1, 1, 0, 0, 0 };
	int		 ndigits, i, offset = 0, n;
	const char	*p;
	int64_t		 t;

	if (s == NULL)
		return (-1);
	p = s;
	while (*p >= '0' && *p <= '9')
		p++;
	ndigits = (int)(p - s);
	if (ndigits < 4 || ndigits > 14 || ndigits % 2 != 0)
		return (-1);
	digits(s, 4, &f[0]);
	for (i = 1; 4 + 2 * i <= ndigits; i++)
		digits(s + 2 + 2 * i, 2, &f[i]);

	/* The zone, usually after a space, but "+0100" attached is seen. */
	if (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '+' || *p == '-') {
			if ((n = parse_offset(p, 0, &offset)) < 0)
				return (-1);
			p += n;
		} else if (*p == 'Z')
			p++;
		else if (strncmp(p, "UTC", 3) == 0 || strncmp(p, "GMT", 3) == 0)
			p += 3;
		else
			return (-1);
		if (*p != '\0')
			return (-1);
	}

	if (timefmt_from_utc(f[0], f[1], f[2], f[3], f[4], f[5], &t) != 0)
		return (-1);
	return (in_range(t - offset, out));
}

/* Guides are written in UTC, so the zone is always +0000. */
char *
timefmt_format_xmltv(int64_t t, char *buf, size_t size)
{
	struct civil	c;

	to_civil(t, &c);
	snprintf(buf, size, "%04lld%02d%02d%02d%02d%02d +0000",
	    (long long)c.year, c.mon, c.day, c.hour, c.min, c.sec);
	return (buf);
}

int64_t
timefmt_monotonic_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}
