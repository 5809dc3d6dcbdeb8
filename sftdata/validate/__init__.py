"""``sftdata validate``: exact, located, explained errors, and nothing lost.

- :mod:`.rules` the catalogue (stable codes, severities, remedies)
- :mod:`.profiles` what each trainer accepts (sftdata, trl, llamafactory, openai)
- :mod:`.engine` the streaming engine; :mod:`.fast` its fast path for large sharegpt JSONL
- :mod:`.checks`, :mod:`.tools`, :mod:`.media` the record rules
- :mod:`.fixes` safe repairs; :mod:`.report` the report and its JSON schema
"""

from __future__ import annotations

from .api import validate
from .profiles import PROFILES, Profile, get_profile
from .report import ValidationReport
from .rules import RULES, Rule

__all__ = ["PROFILES", "RULES", "Profile", "Rule", "ValidationReport", "get_profile", "validate"]

