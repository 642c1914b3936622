"""Host detection from environment variables."""

from __future__ import annotations

import copy
import pickle

import pytest

from framework import platform
from framework.platform import Platform, detect, on_google_host
from framework.records import Record

APPENGINE_ENV = {
    "GAE_ENV": "standard",
    "GAE_SERVICE": "api",
    "GAE_VERSION": "20260817t142530",
    "GAE_INSTANCE": "00c61b117c",
    "GAE_RUNTIME": "python312",
    "GAE_MEMORY_MB": "384",
    "GAE_APPLICATION": "s~my-proj",
    "GAE_DEPLOYMENT_ID": "123",
    "GOOGLE_CLOUD_PROJECT": "my-proj",
    "PORT": "8081",
}


def test_appengine_standard() -> None:
    info = detect(APPENGINE_ENV)
    assert info == Platform(
        kind=platform.APPENGINE, service="api", version="20260817t142530", instance="00c61b117c",
        project="my-proj", runtime="python312", memory_mb=384, deployment_id="123",
    )
    assert info.on_google and info.is_appengine and info.trusts_appengine_headers
    assert on_google_host(APPENGINE_ENV)


def test_project_from_application_id_and_default_service() -> None:
    info = detect({"GAE_ENV": "standard", "GAE_APPLICATION": "e~eu-proj", "GAE_MEMORY_MB": "lots"})
    assert info.project == "eu-proj"
    assert info.service == "default"
    assert info.memory_mb is None


def test_local_runner() -> None:
    info = detect({**APPENGINE_ENV, "GAE_ENV": "localdev"})
    assert info.kind == platform.LOCAL_APPENGINE
    assert info.is_local_appengine and info.trusts_appengine_headers
    assert not info.on_google and not info.is_appengine
    assert not on_google_host({"GAE_ENV": "localdev"})


def test_cloud_run_and_functions() -> None:
    run = detect({"K_SERVICE": "web", "K_REVISION": "web-00002", "GOOGLE_CLOUD_PROJECT": "p"})
    assert (run.kind, run.service, run.version, run.project) == (platform.CLOUD_RUN, "web", "web-00002", "p")
    assert run.on_google and not run.trusts_appengine_headers
    fn = detect({"K_SERVICE": "fn", "FUNCTION_TARGET": "http_function", "FUNCTION_REGION": "europe-west1"})
    assert (fn.kind, fn.region) == (platform.CLOUD_FUNCTIONS, "europe-west1")
    gen1 = detect({"FUNCTION_NAME": "old", "GCP_PROJECT": "p", "FUNCTION_MEMORY_MB": "256"})
    assert (gen1.kind, gen1.service, gen1.project, gen1.memory_mb) == (platform.CLOUD_FUNCTIONS, "old", "p", 256)
    # on_google_host (the debugger's and the session cookie's check) agrees with detect() on every host
    for env in ({"K_SERVICE": "web"}, {"K_SERVICE": "fn", "FUNCTION_TARGET": "f"}, {"FUNCTION_NAME": "old", "GCP_PROJECT": "p"}):
        assert detect(env).on_google and on_google_host(env)
    assert not on_google_host({"FUNCTION_NAME": "old"})


def test_local() -> None:
    info = detect({"GAE_ENV": "something-else"})
    assert info == Platform(kind=platform.LOCAL)
    assert not info.on_google and not info.trusts_appengine_headers
    assert not on_google_host({})


def test_default_reads_os_environ(monkeypatch) -> None:
    monkeypatch.setenv("GAE_ENV", "standard")
    monkeypatch.setenv("GAE_SERVICE", "from-env")
    assert detect().service == "from-env"
    assert on_google_host()


def test_platform_is_an_immutable_value() -> None:
    info = detect(APPENGINE_ENV)
    same = detect(dict(APPENGINE_ENV))
    assert info == same and hash(info) == hash(same) and len({info, same}) == 1
    assert info != detect({**APPENGINE_ENV, "GAE_VERSION": "other"})
    assert info != ("appengine",) and Platform(kind=platform.LOCAL) != object()
    for clone in (copy.copy(info), copy.deepcopy(info), pickle.loads(pickle.dumps(info))):
        assert clone == info and clone is not info
    assert repr(Platform(kind=platform.LOCAL, project="p")) == (
        "Platform(kind='local', service=None, version=None, instance=None, project='p', runtime=None,"
        " memory_mb=None, region=None, deployment_id=None)"
    )
    for attempt in (lambda: setattr(info, "kind", "local"), lambda: delattr(info, "service"),
                    lambda: setattr(info, "extra", 1)):
        try:
            attempt()
        except AttributeError:
            pass
        else:
            raise AssertionError("a Platform was changed")
    assert info.kind == platform.APPENGINE and info.service == "api" and info.memory_mb == 384
    assert Platform("local", "svc").service == "svc"  # positional, in field order


def test_a_record_without_its_own_fields_is_refused() -> None:
    with pytest.raises(TypeError, match="__slots__"):
        type("NoFields", (Record,), {})
    with pytest.raises(TypeError, match="__slots__"):
        type("OneString", (Record,), {"__slots__": "name"})
