"""Accounts (账号与角色): users, roles, login sessions and their throttling.

`models.py` holds the tables, `service.py` the operations (shared by the web pages, the JSON
API and the `jingxin users` commands), `views.py` the pages and `/api/v1/me`, `/api/v1/users`.
"""
