"""``sftdata validate``: exact, located, explained errors, and nothing lost.

- :mod:`.rules` the catalogue (stable codes, severities, remedies)
- :mod:`.profiles` what each trainer accepts (sftdata, trl, llamafactory, openai)
- :mod:`.engine` the streaming engine; :mod:`.fast` its fast path for large sharegpt JSONL
- :mod:`.checks`, :mod:`.tools`, :mod:`.media` the record rules
- :mod:`.fixes` safe repairs; :mod:`.report` the report and its JSON schema
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .api import validate
from .profiles import PROFILES, Profile, get_profile
from .report import ValidationReport
from .rules import RULES, Rule

__all__ = ["PROFILES", "RULES", "Profile", "Rule", "ValidationReport", "get_profile", "validate"]


class _CallableModule(types.ModuleType):
    """Importing ``sftdata.validate.rules`` rebinds ``sftdata.validate`` to this package,
    shadowing the function of the same name; a callable package keeps
    ``sftdata.validate(path)`` working whichever happened first."""

    def __call__(self, *args: Any, **kwargs: Any) -> ValidationReport:
        return validate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
