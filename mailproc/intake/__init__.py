"""Intake: the mailbox (IMAP / Maildir), parsing raw mail into an `IncomingMail`, and the use
cases that decide what each mail is and record it (`polling.poll`, the cycle over a batch at a
time; `services.process_mail`, one mail).

Owns reading mail; never sends mail (that is `outgoing`) and never opens the database
directly (that is `store`).
"""
