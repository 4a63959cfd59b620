"""gunicorn settings, read from the directory gunicorn starts in (`gunicorn "webapp:create_app()"`).

Only what keeps personal data out of the access log: request lines and Referer headers
name self-service URLs (/r/<token>) and, in the organiser's searches, email addresses.
Bind address, workers and the log destination stay on the command line.
"""

from webapp.redaction import redact_loggers

redact_loggers(["gunicorn.access", "gunicorn.error"])

# gunicorn's control socket (gunicornc) is not used here, and in the image the web user
# has no home directory to keep it in.
control_socket_disable = True
