"""The controlled Word forms as bytes: ``package`` opens a .docx safely (and holds the
WordprocessingML vocabulary and the errors), ``render`` fills templates with docxtpl,
``readback`` reads a filled form back, ``catalogue`` checks templates and gives sample contexts.

Must not touch mail, the database or the configuration: callers pass templates, contexts and
file contents in and get bytes or values out.
"""
