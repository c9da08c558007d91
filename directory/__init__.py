"""The cadre directory: the five-level tree and the cadres from the organisation
departments' files (and, later, 浙政钉's directory), upserted in bulk. Layered above
``courses`` (a cadre who moves takes their counts along in the report summaries)."""
