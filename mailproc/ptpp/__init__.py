"""The PTPP use cases: issuing the form to the department, assignment, reading replies,
verification, rejection, notes, and the monitoring job (reminders and escalations).

Decisions come from `mailproc.domain`; persistence goes through `mailproc.store`; mail is
queued through `mailproc.outgoing`. No SMTP, IMAP or SQL here.
"""
