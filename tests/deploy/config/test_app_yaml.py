"""app.yaml top-level rules (platform-facts §5.1): each with a valid and an invalid file, the line asserted."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from deploy.config.app_yaml import load_app_yaml, version_problems
from deploy.config.problems import ConfigError

from .helpers import assert_one_error, errors, problems, warnings, write

REPO = Path(__file__).resolve().parents[3]

COMPOSED_EXAMPLE = """
runtime: python313
instance_class: F2
entrypoint: gunicorn -b :$PORT -w 4 main:app
env_variables: {APP_MODE: prod}
inbound_services: [warmup]
automatic_scaling: {min_instances: 0, max_instances: 10, max_concurrent_requests: 40}
handlers:
- url: /static
  static_dir: static
  expiration: "1d"
- url: /.*
  secure: always
  redirect_http_response_code: 301
  script: auto
"""


def test_the_composed_example_of_the_platform_facts_passes_unchanged(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    config = load_app_yaml(write(tmp_path, "app.yaml", COMPOSED_EXAMPLE))
    assert config.warnings == ()
    assert (config.runtime, config.instance_class, config.service) == ("python313", "F2", "default")
    assert config.env_variables == {"APP_MODE": "prod"} and config.warmup
    assert config.scaling.kind == "automatic" and config.scaling.max_concurrent_requests == 40
    static, app = config.handlers
    assert (static.kind, static.expiration, static.line) == ("static_dir", 86400, 8)
    assert (app.kind, app.secure, app.redirect_http_response_code) == ("script", "always", 301)


def test_the_repositorys_own_app_yaml_passes() -> None:
    config = load_app_yaml(REPO / "app.yaml")
    assert config.runtime.startswith("python3")
    assert [str(w) for w in config.warnings] == []


@pytest.mark.parametrize(("text", "line", "words"), [
    ("runtime: python313\nservice: api\napplication: my-proj\n", 3, "`application:` is not allowed"),
    ("runtime: python313\nproject: my-proj\n", 2, "`project:` is not allowed"),
    ("runtime: python313\nversion: v1\n", 2, "`version:` is not allowed"),
    ("runtime: python313\nthreadsafe: true\n", 2, "threadsafe"),
    ("runtime: python313\nskip_files:\n- ^\\.git$\n", 2, "skip_files"),
    ("runtime: python313\nlibraries:\n- name: ssl\n", 2, "libraries"),
    ("runtime: python313\nposition: tail\n", 2, "not to app.yaml"),
    ("runtime: python313\nhandlers:\n- url: /.*\n  script: auto\n  position: tail\n", 5,
     "only allowed in handlers of an included file"),
])
def test_keys_gcloud_refuses_for_python3(tmp_path: Path, text: str, line: int, words: str) -> None:
    assert_one_error(load_app_yaml, write(tmp_path, "app.yaml", text), line, words)


def test_unknown_key_suggests_the_closest_known_one(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "runtime: python313\n\nentrypoit: gunicorn -b :$PORT main:app\n")
    problem = assert_one_error(load_app_yaml, path, 3, "unknown key 'entrypoit'")
    assert "did you mean `entrypoint`?" in problem.fix


def test_unknown_key_without_a_close_match_lists_the_accepted_keys(tmp_path: Path) -> None:
    problem = assert_one_error(load_app_yaml, write(tmp_path, "app.yaml", "runtime: python313\nzzz: 1\n"),
                               2, "unknown key 'zzz'")
    assert "runtime" in problem.fix and "handlers" in problem.fix


def test_keys_standard_ignores_are_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "runtime: python313\nbeta_settings:\n  a: b\n")
    assert errors(load_app_yaml, path) == []
    assert [line for line, _ in warnings(load_app_yaml, path)] == [2]


@pytest.mark.parametrize(("runtime", "today", "line_words"), [
    ("python313", date(2026, 12, 1), None),
    ("python39", date(2026, 12, 1), "reached end of support on 2025-10-05"),
    ("python310", date(2026, 12, 1), "reached end of support on 2026-10-04"),
    ("python310", date(2026, 5, 1), None),
    ("python37", date(2026, 12, 1), "reached end of support on 2024-01-30"),
    ("python27", date(2026, 12, 1), "first-generation"),
    ("python", date(2026, 12, 1), "first-generation"),
    ("python-compat", date(2026, 12, 1), "first-generation"),
    ("nodejs20", date(2026, 12, 1), "not an App Engine standard Python 3 runtime"),
])
def test_runtime_must_be_a_supported_python3_runtime(tmp_path: Path, runtime: str, today: date,
                                                      line_words: str | None) -> None:
    path = write(tmp_path, "app.yaml", f"# a comment\nruntime: {runtime}\n")
    found = errors(lambda p: load_app_yaml(p, today=today), path)
    if line_words is None:
        assert found == []
    else:
        assert [(line, line_words in message) for line, message in found] == [(2, True)], found


def test_runtime_close_to_end_of_support_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "runtime: python310\n")
    found = warnings(lambda p: load_app_yaml(p, today=date(2026, 8, 1)), path)
    assert found == [(1, "runtime python310 reaches end of support on 2026-10-04")]


def test_misspelt_runtime_gets_a_did_you_mean(tmp_path: Path) -> None:
    problem = assert_one_error(load_app_yaml, write(tmp_path, "app.yaml", "runtime: pyhton313\n"), 1,
                               "'pyhton313'")
    assert "python313" in problem.fix


def test_missing_runtime(tmp_path: Path) -> None:
    assert_one_error(load_app_yaml, write(tmp_path, "app.yaml", "entrypoint: gunicorn main:app\n"), 1,
                     "has no runtime")


@pytest.mark.parametrize(("service", "valid"), [
    ("api", True), ("a", True), ("worker-2", True), ("x" * 63, True),
    ("-api", False), ("api-", False), ("API", False), ("my_service", False), ("x" * 64, False),
    ("a-dot-b", False),
])
def test_service_id_rules(tmp_path: Path, service: str, valid: bool) -> None:
    path = write(tmp_path, "app.yaml", f"runtime: python313\nservice: {service}\n")
    if valid:
        assert load_app_yaml(path).service == service
    else:
        assert_one_error(load_app_yaml, path, 2, "service")


def test_module_is_the_deprecated_service_alias(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "runtime: python313\nmodule: api\n")
    assert load_app_yaml(path).service == "api"
    assert [line for line, _ in warnings(load_app_yaml, path)] == [2]
    both = write(tmp_path, "both.yaml", "runtime: python313\nservice: api\nmodule: api\n")
    assert_one_error(load_app_yaml, both, 3, "both service and module")


@pytest.mark.parametrize(("version", "ok"), [
    ("v1", True), ("20260817t142530", True), ("-v1", False), ("V1", False), ("a-dot-b", False),
    ("ah-builtin-x", False), ("x" * 64, False),
])
def test_version_id_rules(version: str, ok: bool) -> None:
    assert (version_problems(version) == []) is ok


def test_version_service_project_hostname_length() -> None:
    assert version_problems("v1", "api", "p" * 40) == []
    assert version_problems("v1", "api", "p" * 60) != []


@pytest.mark.parametrize(("block", "line", "words"), [
    ("env_variables:\n  GAE_X: y\n", 3, "'GAE_X' is not allowed"),
    ("env_variables:\n  OK: 1\n  2BAD: y\n", 4, "'2BAD' is not allowed"),
    ("env_variables:\n  EMPTY:\n", 3, "not a plain value"),
    ("env_variables:\n  NESTED:\n    a: b\n", 3, "not a plain value"),
    ("env_variables: [A, B]\n", 2, "must be a mapping"),
])
def test_env_variables(tmp_path: Path, block: str, line: int, words: str) -> None:
    assert_one_error(load_app_yaml, write(tmp_path, "app.yaml", "runtime: python313\n" + block), line, words)


def test_env_variables_values_become_strings_and_platform_ones_warn(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "runtime: python313\nenv_variables:\n  N: 5\n  B: true\n  PORT: 9\n")
    config = load_app_yaml(path)
    assert config.env_variables == {"N": "5", "B": "true", "PORT": "9"}
    assert [line for line, _ in warnings(load_app_yaml, path)] == [5]


def test_entrypoint_must_be_a_command(tmp_path: Path) -> None:
    assert_one_error(load_app_yaml, write(tmp_path, "app.yaml", "runtime: python313\nentrypoint: ''\n"), 2,
                     "entrypoint is empty")
    assert_one_error(load_app_yaml, write(tmp_path, "b.yaml", "runtime: python313\nentrypoint: [a]\n"), 2,
                     "entrypoint must be a text value")


def test_entrypoint_binding_8080_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "runtime: python313\nentrypoint: gunicorn -b :8080 main:app\n")
    assert [line for line, _ in warnings(load_app_yaml, path)] == [2]
    good = write(tmp_path, "good.yaml", "runtime: python313\nentrypoint: gunicorn -b :$PORT main:app\n")
    assert warnings(load_app_yaml, good) == []


@pytest.mark.parametrize(("text", "line", "words"), [
    ("default_expiration: 4x\n", 2, "not a duration"),
    ("inbound_services: [warmupp]\n", 2, "unknown entry"),
    ("app_engine_apis: maybe\n", 2, "true or false"),
    ("app_engine_bundled_services: [memcache, nope]\n", 2, "unknown entry"),
    ("service_account: not-an-email\n", 2, "not an email"),
    ("env: flex\n", 2, "flexible"),
    ("standard_websocket: 3\n", 2, "true or false"),
])
def test_other_top_level_values(tmp_path: Path, text: str, line: int, words: str) -> None:
    assert_one_error(load_app_yaml, write(tmp_path, "app.yaml", "runtime: python313\n" + text), line, words)


def test_valid_top_level_values(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", """
        runtime: python313
        default_expiration: "4d 5h 30m 15s"
        inbound_services:
        - warmup
        app_engine_apis: true
        app_engine_bundled_services: [memcache, ndb]
        service_account: runner@my-proj.iam.gserviceaccount.com
        env: standard
        build_env_variables: {GOOGLE_PYTHON_VERSION: "3.13"}
        vpc_access_connector:
          name: projects/p/locations/us-central1/connectors/c
          egress_setting: all-traffic
        """)
    config = load_app_yaml(path)
    assert config.default_expiration == 4 * 86400 + 5 * 3600 + 30 * 60 + 15
    assert config.app_engine_apis and config.service_account.startswith("runner@")
    assert config.build_env_variables == {"GOOGLE_PYTHON_VERSION": "3.13"}
    assert config.warnings == ()


def test_vpc_connector_name_must_be_a_connector_path(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "runtime: python313\nvpc_access_connector:\n  name: my-connector\n")
    assert_one_error(load_app_yaml, path, 3, "not a connector path")


def test_error_handlers(tmp_path: Path) -> None:
    (tmp_path / "quota.html").write_text("<p>over quota</p>")
    (tmp_path / "big.html").write_text("x" * 20000)
    good = write(tmp_path, "app.yaml", """
        runtime: python313
        error_handlers:
        - file: quota.html
          error_code: over_quota
        """)
    assert problems(load_app_yaml, good) == []
    bad = write(tmp_path, "bad.yaml", """
        runtime: python313
        error_handlers:
        - file: quota.html
          error_code: not_found
        - file: big.html
        """)
    assert [line for line, _ in errors(load_app_yaml, bad)] == [4, 5]


def test_includes_are_merged_head_first_and_tail_last(tmp_path: Path) -> None:
    write(tmp_path, "common.yaml", """
        handlers:
        - url: /health
          script: auto
        env_variables:
          FROM_INCLUDE: "1"
          SHARED: include
        """)
    write(tmp_path, "last/include.yaml", "handlers:\n- url: /.*\n  script: auto\n  position: tail\n"
          "- url: /first\n  script: auto\n  position: head\n")
    path = write(tmp_path, "app.yaml", """
        runtime: python313
        includes:
        - common.yaml
        - last
        handlers:
        - url: /api/.*
          script: auto
        env_variables:
          SHARED: app
        """)
    config = load_app_yaml(path)
    assert [h.url for h in config.handlers] == ["/health", "/first", "/api/.*", "/.*"]
    assert config.env_variables == {"FROM_INCLUDE": "1", "SHARED": "app"}


def test_position_in_an_included_file_is_head_or_tail_on_script_handlers(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    write(tmp_path, "inc.yaml", """
        handlers:
        - url: /a
          script: auto
          position: middle
        - url: /s
          static_dir: s
          position: tail
        """)
    path = write(tmp_path, "app.yaml", "runtime: python313\nincludes: [inc.yaml]\n")
    with pytest.raises(ConfigError) as info:
        load_app_yaml(path)
    assert [(p.file.name, p.line) for p in info.value.errors] == [("inc.yaml", 4), ("inc.yaml", 7)]


def test_a_missing_include_and_a_bad_included_file_name_their_own_lines(tmp_path: Path) -> None:
    included = write(tmp_path, "inc.yaml", "handlers:\n- url: /x\n  script: main.app\n")
    path = write(tmp_path, "app.yaml", "runtime: python313\nincludes:\n- nowhere.yaml\n- inc.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_app_yaml(path)
    assert [(p.file.name, p.line) for p in info.value.errors] == [("app.yaml", 3), ("inc.yaml", 3)]
    assert info.value.errors[1].file == included.resolve()


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", """
        runtime: python313
        threadsafe: true
        env_variables:
          GAE_A: b
        handlers:
        - url: ^/x
          script: auto
        """)
    assert [line for line, _ in errors(load_app_yaml, path)] == [2, 4, 6]


@pytest.mark.parametrize(("text", "line"), [
    ("runtime: python313\nentrypoint: 'gunicorn\n", 2),
    ("runtime: python313\nhandlers:\n- url: /\n  script: auto\n - url: /x\n", 5),
    ("- runtime: python313\n", 1),
    ("runtime: python313\nruntime: python312\n", 2),
])
def test_yaml_syntax_and_shape_errors_name_the_line(tmp_path: Path, text: str, line: int) -> None:
    found = errors(load_app_yaml, write(tmp_path, "app.yaml", text))
    assert found and found[0][0] == line, found


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    assert_one_error(load_app_yaml, tmp_path / "app.yaml", 1, "does not exist")


def test_a_folder_or_a_binary_file_is_a_config_error_with_its_own_fix(tmp_path: Path) -> None:
    (tmp_path / "folder" / "app.yaml").mkdir(parents=True)
    assert_one_error(load_app_yaml, tmp_path / "folder" / "app.yaml", 1, "a folder")
    (tmp_path / "app.yaml").write_bytes(b"runtime: python313\nentrypoint: gunicorn\n\x89PNG\r\n")
    with pytest.raises(ConfigError) as info:
        load_app_yaml(tmp_path / "app.yaml")
    [problem] = info.value.problems
    assert problem.line == 3 and "not UTF-8" in problem.message and "UTF-8" in problem.fix


def test_anchors_and_merge_keys_read_as_safe_load_reads_them(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", """
        runtime: python313
        build_env_variables: &common
          A: "1"
        env_variables:
          <<: *common
          B: "2"
        """)
    assert load_app_yaml(path).env_variables == {"A": "1", "B": "2"}
    bad = write(tmp_path, "bad.yaml", "runtime: python313\nenv_variables:\n  <<: [1, 2]\n")
    assert [line for line, _ in errors(load_app_yaml, bad)] == [3]


def test_a_value_with_an_unknown_tag_is_an_error_on_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", "runtime: python313\nentrypoint: !cmd gunicorn\n")
    assert [line for line, _ in errors(load_app_yaml, path)][:1] == [2]


def test_shapes_seen_in_googles_python3_samples_pass(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    path = write(tmp_path, "app.yaml", """
        runtime: python313

        env_variables:
          # every variable commented out leaves an empty block

        handlers:
        - url: /static
          static_dir: static/

        - url: /.*
          script: auto

        vpc_access_connector:
            name: 'projects/<PROJECT_ID>/locations/<REGION>/connectors/<CONNECTOR_NAME>'
        """)
    config = load_app_yaml(path)
    assert config.env_variables == {} and problems(load_app_yaml, path) == []
    match = config.handlers[0].match("/static/app.js")
    assert match and config.handlers[0].file_for(match) == "static/app.js"


def test_a_long_wrong_value_is_quoted_shortened_in_the_problem(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text("x" * 5000 + "\n")
    path = write(tmp_path, "app.yaml", "runtime: python313\nincludes:\n- big.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_app_yaml(path)
    [problem] = info.value.problems
    assert "must be a mapping" in problem.message and "x" * 60 + "...'" in problem.message
    assert len(problem.message) < 200
