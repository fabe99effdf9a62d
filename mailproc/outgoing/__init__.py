"""Outgoing mail: the mail texts people read, queueing into the transactional outbox, building
the MIME message, and the transports (SMTP, local Maildir) that send it after commit.

The only package that talks SMTP. Must not decide what happens to a complaint.
"""
