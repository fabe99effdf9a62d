"""Reports: charts, the recap and closure documents, the register export (`output`), and the
jobs that mail them (`jobs`). Figures come from the pure `mailproc.domain.figures`; records
come from `mailproc.store`.
"""
