"""The jobs scenario (作业): job kinds for the platform's long work (ingestion, evaluation,
uncertainty analysis, housekeeping), the jobs and schedules pages, the jobs API and the CLI's
`login`, `logout`, `jobs` and `worker` commands. The machinery itself is `jingxin.core.jobs`."""
