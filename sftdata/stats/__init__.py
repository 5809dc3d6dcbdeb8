"""Token statistics: compute (:mod:`.compute`, ``sftdata stats``), the report it returns
(:mod:`.report`, with :class:`~sftdata.stats.report.StatsConfig`), and pictures of it
(:mod:`.plot`). The report and the plot import nothing from the computing side."""
