"""Policies as code (政策计算): the catalogue of enterprise policies, their matching against
warehouse facts with a trace per decision, pushes and 直兑 payouts (政策直达、直兑)."""
