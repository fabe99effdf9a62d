"""The controlled Word forms as bytes: rendering from docxtpl templates, reading a filled form
back safely, and the template catalogue checks.

Must not touch mail, the database or the configuration: callers pass templates, contexts and
file contents in and get bytes or values out.
"""
