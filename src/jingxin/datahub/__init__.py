"""The data page (数据归集): liaisons upload departmental files and see what was rejected and why.

`service.py` reads the batch registry and rejected rows of the warehouse through the user's
`Scope` (a liaison sees its own department's sources only) and runs uploads through
`jingxin.ingest.service.ingest_file`; `views.py` has the pages under /data and the API under
/api/v1/batches.
"""
