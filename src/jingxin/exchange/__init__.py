"""Data exchange both ways (跨部门共享交换).

In: blank templates per source, the data exchange specification, the submission tracker per
department, source and period, reminders to liaisons (催报). Out: the catalogue of shareable
datasets, scoped and expiring API tokens, rows as JSON pages or streamed CSV, every call
audited. Operations are in `service.py`; pages and API in `views.py`; commands in `cli.py`.
"""
