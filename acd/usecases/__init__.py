"""The engine's use cases, one small class per area, each built (in ``acd.app``) from exactly
the collaborators it needs: agents' state changes (``agents``), supervision and the wallboard
(``supervise``), interactions and reports (``interactions``, ``reports``), customers
(``customers``), tasks (``tasks``), administration (``admin``) and readiness (``ops``).

The HTTP handlers (``acd.http``) parse a request, call one of these and render the answer; a
use case refuses with a domain error of ``acd.usecases.errors``, which ``acd.http.errors`` maps
to a status in one place."""
