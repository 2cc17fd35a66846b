/* The one M3U writer: extended M3U playlists for IPTV players (P1, P2).
 * Everything that comes from outside (names, logos, descriptions, URLs)
 * reaches the output through this module, which escapes it for its
 * context, so that no value can break a line or an attribute.
 *
 * The lines written, in this order (LF line ends, UTF-8):
 *
 *   #EXTM3U url-tvg="<epg>" x-tvg-url="<epg>"
 *   #EXTINF:-1 tvg-id="" tvg-name="" tvg-logo="" group-title=""
 *       tvg-chno="N" channel-number="N",<display name>
 *   #EXTREM:AMP-NEXT title="" start="" end="" description=""
 *   #EXTREM:AMP-PROGRAM-FEED url=""
 *   #EXTREM:AMP-DESCRIPTION text=""
 *   #EXTREM:AMP-VARIANT name="" label="" profile=""
 *   #EXTREM:AMP-REGION allow="US,GB" block="FR"
 *   <stream URL>
 *
 * (the #EXTINF line is one line; it is folded here only).  Attributes are
 * always in the order shown; an attribute whose value is NULL or "" is
 * left out, and a tag line with no attribute at all is left out.  Times
 * are ISO 8601 in UTC ("2024-05-04T18:00:00Z").
 *
 * Escaping (text from outside, in attribute values and the display
 * name):
 *   - C0 controls (CR, LF, TAB, ...), DEL, C1 controls (U+0080-U+009F,
 *     NEL included) and U+2028/U+2029 become a space, so no value can
 *     end a line for any reader;
 *   - '"' becomes '\'', so no value can end an attribute (the display
 *     name too, for readers that look for the last quote);
 *   - inside a list attribute (allow, block) ',' also becomes a space;
 *   - malformed UTF-8 becomes U+FFFD; valid UTF-8 is kept as it is.
 * URLs (the stream URL line and the url-tvg, x-tvg-url, tvg-logo and
 * AMP-PROGRAM-FEED url attributes) are expected percent-encoded
 * (escape_url); any byte that may not appear in a URI (controls, space,
 * '"', '<', '>', '\\', '^', '`', '{', '|', '}', non-ASCII) is
 * percent-encoded here anyway, as is a leading '#', which would make the
 * URL line a comment. */
#ifndef AMPS_M3U_H
#define AMPS_M3U_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* One playlist entry.  Every pointer is the caller's and may be NULL
 * (absent) except url. */
struct m3u_entry {
	/* #EXTINF */
	const char	*tvg_id;
	const char	*tvg_name;
	const char	*tvg_logo;
	const char	*group_title;
	long long	 channel_number;	/* tvg-chno, channel-number;
						   0 = absent */
	const char	*name;			/* display name */

	/* #EXTREM:AMP-NEXT, written when next_title is set. */
	const char	*next_title;
	int64_t		 next_start;		/* 0 = absent */
	int64_t		 next_end;		/* 0 = absent */
	const char	*next_description;

	const char	*program_feed;		/* AMP-PROGRAM-FEED url */
	const char	*description;		/* AMP-DESCRIPTION text */

	/* #EXTREM:AMP-VARIANT, written when variant_name is set. */
	const char	*variant_name;
	const char	*variant_label;
	const char	*variant_profile;

	/* #EXTREM:AMP-REGION, written when either list is non-empty. */
	const char *const *regions_allowed;
	size_t		 nregions_allowed;
	const char *const *regions_blocked;
	size_t		 nregions_blocked;

	const char	*url;			/* the stream URL (required) */
};

/* Appends "#EXTM3U", with url-tvg and x-tvg-url (the two spellings
 * players read) when epg_url is neither NULL nor "". */
void	 m3u_header(struct buf *b, const char *epg_url);
/* Appends one entry: the #EXTINF line, its #EXTREM tag lines and the URL
 * line.  Returns 0, or -1 (and appends nothing) when e->url is NULL or
 * "": an entry without a URL would swallow the next entry's. */
int	 m3u_entry(struct buf *b, const struct m3u_entry *e);
/* Appends one "#EXTREM:<tag> name="value" ..." line.  The arguments after
 * tag are pairs of const char * (attribute name, value) ending with a
 * NULL name; a NULL or "" value leaves the attribute out, and a line
 * without attributes is not written.  tag and the attribute names are the
 * caller's constants: any character but A-Z a-z 0-9 '-' '_' in them is
 * written as '-'. */
void	 m3u_tag(struct buf *b, const char *tag, ...)
	    __attribute__((sentinel));

#endif
