"""What-if evaluation of a county (情景推演, issue 11).

`scenario` (what an analyst changes), `engine` (staged facts, parameters as a table, statements
compiled once per system, year and county), `compare` (official against scenario: class counts,
movers with why, ranking, policy money), `service` (scope checks, one call per recomputation),
`models` and `store` (saved scenarios, adoption as a county override file, audited), `views`
(page and API, included in the evaluation scenario). See docs/evaluation.md §6a.
"""
