"""What a config reload replaces in a running engine, in one typed holder: the desk catalogue
(``config/desk.yaml``), the task types and timings (``config/tasks.yaml``), the knowledge cards
(``config/knowledge/``) and the contacts webhook's token hash (``customers.webhook_token_hash`` of
``engine.yaml``, so a leaked token is replaced without a restart). Every part that serves them (the
ACD's reasons and dispositions, the task runner, the tasks API, the flows' task step, the
screen-pop's cards, the webhook) reads them here at each use, so a reload
(``acd.service.configreload``) swaps them all at once and nothing else is written.

Queues and agents are not here: they change through the ACD's event log (``AcdService.apply_config``);
users through ``Users.replace_entries``; flows through their own registry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from acd.knowledge.cards import Card
from acd.routing.config import DeskCatalogue
from acd.tasks.rules import TaskConfig, TaskType


@dataclass(frozen=True)
class ConfigFiles:
    """One reading of the reloadable files, all valid together."""

    desk: DeskCatalogue
    tasks: TaskConfig
    knowledge: tuple[Card, ...] = ()
    webhook_token_hash: str = ""  # empty: the contacts webhook is off


class LiveConfig:
    """The reloadable files as last (re)loaded; ``swap`` replaces them as one."""

    def __init__(self, files: ConfigFiles) -> None:
        self._files = files

    @property
    def files(self) -> ConfigFiles:
        return self._files

    @property
    def desk(self) -> DeskCatalogue:
        return self._files.desk

    @property
    def tasks(self) -> TaskConfig:
        return self._files.tasks

    @property
    def knowledge(self) -> tuple[Card, ...]:
        return self._files.knowledge

    @property
    def webhook_token_hash(self) -> str:
        return self._files.webhook_token_hash

    def task_types(self) -> Mapping[str, TaskType]:
        return self._files.tasks.types

    def swap(self, files: ConfigFiles) -> None:
        self._files = files
