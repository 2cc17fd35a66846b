#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "region.h"

/* The 249 officially assigned ISO 3166-1 alpha-2 codes (ISO 3166
 * Maintenance Agency, as shipped in Debian's iso-codes), plus the
 * user-assigned XK for Kosovo.  Sorted, for bsearch. */
static const char region_codes[][3] = {
	"AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT",
	"AU", "AW", "AX", "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI",
	"BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY",
	"BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
	"CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM",
	"DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK",
	"FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL",
	"GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
	"HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR",
	"IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN",
	"KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS",
	"LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
	"ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW",
	"MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP",
	"NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM",
	"PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
	"SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM",
	"SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF",
	"TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
	"TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
	"VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA", "ZM", "ZW",
};

static int
cmp_code(const void *a, const void *b)
{
	return (strcmp(a, b));
}

static int
is_upper(char c)
{
	return (c >= 'A' && c <= 'Z');
}

/* Upper-cases without the locale (toupper would follow LC_CTYPE). */
static char
upper(char c)
{
	return (c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c);
}

/* Viewer regions come from query strings and CDN headers, so anything
 * that is not a real code is treated as unknown. */
int
region_valid(const char *s)
{
	char	out[3];

	return (region_normalise(s, out) == 0);
}

/* Codes are stored and compared upper case. */
int
region_normalise(const char *s, char out[3])
{
	char	code[3];

	if (s == NULL || s[0] == '\0' || s[1] == '\0' || s[2] != '\0')
		return (-1);
	code[0] = upper(s[0]);
	code[1] = upper(s[1]);
	code[2] = '\0';
	if (!is_upper(code[0]) || !is_upper(code[1]))
		return (-1);
	if (bsearch(code, region_codes,
	    sizeof region_codes / sizeof region_codes[0],
	    sizeof region_codes[0], cmp_code) == NULL)
		return (-1);
	memcpy(out, code, sizeof code);
	return (0);
}

static int
in_list(const char *const *list, size_t n, const char *code)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (list[i] != NULL && strcasecmp(list[i], code) == 0)
			return (1);
	}
	return (0);
}

/* One place for the rule so that the playlist, the guide and the stream
 * endpoints cannot disagree about who may watch. */
int
region_permits(const char *const *allowed, size_t nallowed,
    const char *const *blocked, size_t nblocked, const char *viewer)
{
	if (viewer != NULL && in_list(blocked, nblocked, viewer))
		return (0);
	if (nallowed == 0)
		return (1);
	if (viewer == NULL)
		return (0);
	return (in_list(allowed, nallowed, viewer));
}
