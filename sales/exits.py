"""The exit statuses the writing commands share (`import`, `sync`): 0 done, and these."""

# 1 refused: the checks failed or the CRM said no, and the database is unchanged; 2 a bad
# command line, mapping, file or missing credentials; 3 the database stayed busy.
EXIT_REFUSED, EXIT_USAGE, EXIT_BUSY = 1, 2, 3
