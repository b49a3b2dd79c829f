"""Semantic rules: one small function per rule, each returning located diagnostics (ES2xx).

Codes (ES201-ES203 are checked while the IR is built, see ``build_checks.py``):

* ES204 an action name collides with another action's bulk variant ``<action>_many``
* ES205 two inputs or model attributes of one resource share a name
* ES206 duplicate class name; ES207 duplicate table name; ES208 duplicate module name
* ES210 unknown relationship destination; ES211 unknown relationship key attribute
* ES212 missing or composite primary key where one is needed
* ES213 identity key, ES214 accepted attribute, ES218 set_attribute attribute, ES220 validated
  attribute, ES222 tenant attribute: unknown attribute
* ES215 accepted attribute is not writable
* ES216 upsert: unknown identity or not a create; ES217 soft destroy: bad attribute or not a destroy
* ES219 unknown argument in from_argument; ES221 invalid regular expression; ES223 enum values
  on a non-enum type
* ES230 unknown event log; ES231 only_actions with ignore_actions; ES232 unknown action in an events
  option; ES233 version not positive; ES234 action both ignored and versioned; ES235 versioned
  action not in only_actions; ES236 unknown timestamp attribute; ES237 timestamp attribute of a
  non-timestamp type; ES238 primary key type does not match record_id_type
* ES240 several actor keys, one not nullable; ES241 actor resource unknown or without primary key;
  ES242 unknown public field; ES243 advisory lock key not int32; ES244 route_to resource unknown;
  ES245 route_to action unknown; ES246 route_to action of another type; ES247 actor column named
  like an event field
* ES250 foreign-key cycle among tracked resources; ES251 sensitive input in a plain log; ES315 a
  foreign key from an untracked resource into a tracked one
  (see ``replay.py``)
* ES316 require_actor where the event log declares no actor types; ES317 require_actor on an
  action that writes no event (see ``actors.py``)
* ES260 malformed reference to user code; ES261 reference whose package the generated code
  shadows (see ``references.py``)
* ES271 two spec-derived names equal in one generated module; ES272 a database name over 63
  bytes; ES273 two database names equal; ES274 a table name SQLite or alembic owns; ES275 two
  tables equal ignoring case (see ``identifiers.py``, ``db_names.py``)
* ES280 a default or value that is not a value of its type; ES281 an enum default or value
  outside the enum; ES282 an enum value PostgreSQL refuses or given twice (see ``values.py``)
* ES290 unknown embedded spec; ES291 an embedded spec containing itself; ES292 an embedded type
  where it cannot be used; ES293 an embedded spec's or field's name colliding; ES294 an
  embedded spec's validation naming no field, or a call (see ``embedded.py``)
* ES350-ES357 managed relationships (see ``manage.py``)
* ES295 an array of arrays or of enums
* ES298 tenant attribute of a type no tenant can have
* ES320-ES325, ES358 personal data: encrypted log, data_subject, erasable attributes,
  on_erase (see ``privacy.py``)
* ES310-ES313 upcasters (see ``upcasters.py``); ES300-ES308, the event-schema lock, are checked
  after these rules (see ``eventspec.contracts``)
* ES340 partitioning by id of a uuidv7 log; ES341 a partitioning option of the other key (see
  ``partitions.py``)
"""

from __future__ import annotations

from ..diagnostics import Diagnostic
from ..ir import Project
from . import (
    actors,
    db_names,
    embedded,
    event_logs,
    events,
    identifiers,
    manage,
    names,
    partitions,
    privacy,
    references,
    replay,
    resources,
    upcasters,
    values,
)
from .common import Rule

RULES: tuple[Rule, ...] = (
    *names.RULES,
    identifiers.python_names,
    *db_names.RULES,
    identifiers.model_class_references,
    *resources.RULES,
    *events.RULES,
    *event_logs.RULES,
    *replay.RULES,
    *actors.RULES,
    *references.RULES,
    *upcasters.RULES,
    *values.RULES,
    *embedded.RULES,
    *manage.RULES,
    *partitions.RULES,
    *privacy.RULES,
)


def verify(project: Project) -> list[Diagnostic]:
    """Every semantic problem of ``project``, sorted and deduplicated."""
    return sorted({d for rule in RULES for d in rule(project)})
