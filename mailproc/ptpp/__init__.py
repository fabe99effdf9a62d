"""The PTPP use cases: issuing the form to the department, assignment, reading replies,
verification, rejection, notes, and the monitoring job (reminders and escalations).

`workflow` holds the use cases, `handlers` the message bus (the mail that follows a saved
lifecycle event), `documents` the archiving of a complaint's documents, `reminders` the
monitoring job. Decisions come from `mailproc.domain`; persistence goes through
`mailproc.store`; mail is queued through `mailproc.outgoing`. No SMTP, IMAP or SQL here.
"""
