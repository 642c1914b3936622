"""Typed models of App Engine's config files, read once with PyYAML; every problem names FILE:LINE and a fix.

The local runner (deploy.local), `python -m deploy check`, stage and preflight all read these models.
"""

from .app_yaml import AppYaml, load_app_yaml
from .cron_yaml import Cron, load_cron
from .dispatch_yaml import Dispatch, load_dispatch
from .index_yaml import Indexes, load_indexes
from .problems import ConfigError, Problem
from .project import Project, load_project
from .queue_yaml import Queues, load_queues

__all__ = ["AppYaml", "ConfigError", "Cron", "Dispatch", "Indexes", "Problem", "Project", "Queues",
           "load_app_yaml", "load_cron", "load_dispatch", "load_indexes", "load_project", "load_queues"]
