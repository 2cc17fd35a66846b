/* The one XMLTV writer: programme guides as the XMLTV DTD
 * (/usr/share/xmltv/xmltv.dtd) describes them, written through libxml2's
 * xmlTextWriter and streamed: bytes go to the caller's callback in chunks
 * of a few kilobytes as they are made, so a guide of any size never sits
 * in memory.
 *
 * The document (UTF-8, two-space indent):
 *
 *   <?xml version="1.0" encoding="UTF-8"?>
 *   <!DOCTYPE tv SYSTEM "xmltv.dtd">
 *   <tv generator-info-name="amps">
 *     <channel id="...">
 *       <display-name>...</display-name>       one or more
 *       <icon src="..."/>                       optional
 *     </channel>
 *     <programme start="YYYYmmddHHMMSS +0000" stop="..." channel="...">
 *       <title>...</title>
 *       <sub-title>...</sub-title>              optional
 *       <desc>...</desc>                        optional
 *       <category>...</category>                zero or more
 *       <icon src="..."/>                       optional
 *       <episode-num system="onscreen">...</episode-num>   optional
 *     </programme>
 *   </tv>
 *
 * The DTD's order is kept: every channel before every programme (see
 * xmltv_channel), and inside a programme the order above (title+,
 * sub-title*, desc*, category*, icon*, episode-num*).  An optional element
 * whose value is NULL or only white space is left out (tv_validate_file
 * rejects an empty title or desc).  A programme without a start time or a
 * title cannot be written (both are required) and is skipped; stop is
 * written only when end is later than start.
 *
 * Text from outside (names, titles, ids, URLs) is escaped by libxml2 for
 * its context and sanitised first, so that no value can make the
 * document ill-formed: malformed UTF-8 (overlong forms, surrogates, code
 * points above U+10FFFF, truncated sequences: one '?' for each maximal
 * bad subpart), characters XML 1.0 forbids (C0 controls other than tab,
 * LF and CR; U+FFFE, U+FFFF) and those it discourages (DEL, C1 controls
 * U+0080-U+009F, the noncharacters U+FDD0-U+FDEF and U+nFFFE/U+nFFFF)
 * each become '?'.  ('?' rather than U+FFFD: tv_validate_file reports
 * U+FFFD as mis-encoded text.)  Valid UTF-8 is kept as it is. */
#ifndef AMPS_XMLTV_H
#define AMPS_XMLTV_H

#include <stddef.h>

#include "channel.h"

struct xmltv;

/* Where the document goes: len bytes at data.  Returns 0, or -1 to stop
 * (the client is gone): every later call on the writer then fails. */
typedef int (*xmltv_write_cb)(const void *data, size_t len, void *arg);

/* Starts a document (declaration, DOCTYPE, <tv>) that is written through
 * cb.  Returns the writer (finish it with xmltv_close), or NULL if
 * libxml2 could not set one up. */
struct xmltv	*xmltv_open(xmltv_write_cb cb, void *arg);
/* Writes a <channel>: id (required), names the display names in order
 * (nnames of them; NULL or blank ones are left out; when none is left the
 * id is used, as the DTD needs at least one), icon the logo URL or NULL.
 * Every channel must come before the first programme: a channel after a
 * programme is refused.  Returns 0, or -1 (refused, or the callback or
 * libxml2 failed). */
int		 xmltv_channel(struct xmltv *x, const char *id,
		    const char *const *names, size_t nnames,
		    const char *icon);
/* Writes a <programme> on channel_id from p (which stays the caller's).
 * A programme without start or title is skipped (returns 0).  Returns 0,
 * or -1 when the callback or libxml2 failed. */
int		 xmltv_programme(struct xmltv *x, const char *channel_id,
		    const struct program *p);
/* Ends the document (</tv>), flushes what is buffered through the
 * callback and frees x (NULL is ignored).  Returns 0, or -1 if anything
 * failed since xmltv_open: the document is then incomplete. */
int		 xmltv_close(struct xmltv *x);

#endif
