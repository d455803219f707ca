"""Follow-up tasks on a customer (call backs, cases): the pure model and escalation rules here;
the store in ``acd.store.tasks``, the routes in ``acd.http.tasks``, the periodic escalation and
call-back driver in ``acd.tasks.service``."""
