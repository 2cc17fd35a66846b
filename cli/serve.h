/* amps serve: the embedded default stack (lighttpd + amps.fcgi + streamd)
 * in the foreground. */
#ifndef AMPS_CLI_SERVE_H
#define AMPS_CLI_SERVE_H

/* argv[0] is "serve"; conf is the config path.  Returns the exit status. */
int	 cmd_serve(const char *conf, int argc, char **argv);

#endif
