"""An app's whole configuration as `gcloud app deploy` sees it: service files plus dispatch/cron/queue/index.

`load_project(app_dir, files)` picks files by basename as gcloud does (§5.8); with no files, app.yaml and
the config files beside it. Every problem in every file is collected before raising one ConfigError.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .app_yaml import AppYaml
from .cron_yaml import Cron
from .dispatch_yaml import Dispatch
from .index_yaml import Indexes
from .problems import Problem
from .queue_yaml import Queues


@dataclass(frozen=True)
class Project:
    app_dir: Path
    services: tuple[AppYaml, ...]  # the default service first
    dispatch: Dispatch
    cron: Cron
    queues: Queues
    indexes: Indexes
    warnings: tuple[Problem, ...] = ()

    def service(self, name: str) -> AppYaml:
        for svc in self.services:
            if svc.service == name:
                return svc
        raise KeyError(name)
