"""Intake: the mailbox (IMAP / Maildir), parsing raw mail into an `IncomingMail`, and the use
cases that decide what each mail is and record it (`services.poll` / `process_mail`).

Owns reading mail; never sends mail (that is `outgoing`) and never opens the database
directly (that is `store`).
"""
