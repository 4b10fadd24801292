"""Appeals (诉求直办): enterprises' questions and problems routed to the responsible department
and county, answered within working-day limits, supervised and rated.

Built on the workflow declaration `core/workflow/definitions/appeal.yaml` (states, clocks in
Chinese working days, pause while waiting for the enterprise, escalation); this package adds the
routing rules, attachments, supervision lists, statistics by category, pages, API and CLI.
"""
