"""Media in records: where relative paths point (:mod:`.paths`), image sizes read from
file headers (:mod:`.sizes`), and how many tokens a vision model spends on an image
(:mod:`.tokens`)."""
