"""Users from config/users.yaml: tokens only as hashes, clear errors, ``acd users token``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from acd.cli import main
from acd.http.users import Role, load_users
from acd.settings import ConfigError
from tests.http.conftest import TOKENS, users_yaml


def test_tokens_authenticate_and_are_cached_by_digest_only(tmp_path):
    (tmp_path / "users.yaml").write_text(users_yaml())
    users = load_users(tmp_path / "users.yaml", {"agent1", "agent2"})
    user = users.authenticate(TOKENS["agent1"])
    assert user.id == "agent1" and user.role is Role.AGENT and user.agent_id == "agent1"
    assert users.authenticate("t-agent9") is None and users.authenticate("") is None
    assert TOKENS["agent1"] not in repr(users._verified) and all(len(k) == 64 for k in users._verified)


def test_bad_users_file_names_file_line_and_field(tmp_path):
    (tmp_path / "users.yaml").write_text("users:\n  - {id: a, name: A, role: wizard}\n  - {id: b, name: B, role: agent}\n"
                                         "  - {id: c, name: C, role: admin, token_hash: hunter2}\n")
    with pytest.raises(ConfigError) as err:
        load_users(tmp_path / "users.yaml", set())
    text = "\n".join(err.value.problems)
    assert "users.yaml:2:" in text and "role: 'wizard'" in text
    assert "users[1].agent_id" in text
    assert "users[2].token_hash: not a hash" in text and "hunter2" not in text.split("token_hash")[0]


def test_users_token_command_prints_once_and_stores_a_hash(tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    (tmp_path / "users.yaml").write_text(users_yaml())
    assert main(["users", "token", "sup", "--config", str(tmp_path)]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("sup.") and len(token) >= 40  # "<user>.<random>": one hash check per request
    stored = (tmp_path / "users.yaml").read_text()
    assert token not in stored and "scrypt$" in stored
    users = load_users(tmp_path / "users.yaml")
    assert users.authenticate(token).id == "sup" and users.authenticate(TOKENS["sup"]) is None
    assert not [r for r in caplog.records if token in r.getMessage()]
    assert main(["users", "token", "nobody", "--config", str(tmp_path)]) == 1
    assert main(["users", "list", "--config", str(tmp_path)]) == 0
    assert "sup" in capsys.readouterr().out


def test_a_refused_token_is_not_hashed_again(tmp_path, monkeypatch):
    import acd.http.users as users_mod

    (tmp_path / "users.yaml").write_text(users_yaml())
    users = load_users(tmp_path / "users.yaml")
    calls = []
    real = users_mod.verify_secret
    monkeypatch.setattr(users_mod, "verify_secret", lambda s, h: calls.append(1) or real(s, h))
    assert users.authenticate("nope") is None and users.authenticate("nobody.x") is None
    assert calls == []  # a token that names no user costs no KDF at all
    assert users.authenticate("agent1.bad") is None and len(calls) == 1  # it names its owner: one KDF
    assert users.authenticate("agent1.bad") is None and len(calls) == 1  # refused before: none


def test_a_refused_token_costs_one_kdf_until_the_users_are_reloaded(tmp_path, monkeypatch):
    import acd.http.users as users_module

    (tmp_path / "users.yaml").write_text(users_yaml())
    users = load_users(tmp_path / "users.yaml", {"agent1", "agent2"})
    checks = []
    real = users_module.verify_secret
    monkeypatch.setattr(users_module, "verify_secret", lambda secret, stored: checks.append(1) or real(secret, stored))
    assert users.authenticate("sup.t-stale") is None and len(checks) == 1  # one KDF: its owner's hash
    assert users.refused_before("sup.t-stale") and users.cached("sup.t-stale") is None
    assert users.authenticate("sup.t-stale") is None and len(checks) == 1  # remembered: no KDF
    assert "sup.t-stale" not in repr(users._refused)  # only its digest is kept
    users.authenticate(TOKENS["sup"])
    checks.clear()
    assert users.cached(TOKENS["sup"]).id == "sup" and users.authenticate(TOKENS["sup"]).id == "sup" and not checks
    users.entries = load_users(tmp_path / "users.yaml", {"agent1", "agent2"}).entries  # what a config reload does
    assert not users.refused_before("sup.t-stale")
    assert users.authenticate("sup.t-stale") is None and checks  # checked again against the new entries


def test_demo_tokens_name_their_user_by_id_or_role(tmp_path, monkeypatch):
    import acd.http.users as users_module
    from acd.secrets import Secret, hash_secret

    (tmp_path / "users.yaml").write_text(
        "users:\n"
        f"  - {{id: admin, name: A, role: admin, token_hash: '{hash_secret(Secret('demo-admin-token'), n=2**10)}'}}\n"
        f"  - {{id: sup1, name: S, role: supervisor, token_hash: '{hash_secret(Secret('demo-supervisor-token'), n=2**10)}'}}\n"
        f"  - {{id: agent1, name: B, role: agent, agent_id: agent1, token_hash: '{hash_secret(Secret('demo-agent1-token'), n=2**10)}'}}\n"
        f"  - {{id: agent2, name: C, role: agent, agent_id: agent2, token_hash: '{hash_secret(Secret('demo-agent2-token'), n=2**10)}'}}\n")
    users = load_users(tmp_path / "users.yaml")
    checks = []
    real = users_module.verify_secret
    monkeypatch.setattr(users_module, "verify_secret", lambda secret, stored: checks.append(1) or real(secret, stored))
    assert [users.authenticate(t).id for t in ("demo-admin-token", "demo-supervisor-token", "demo-agent2-token")] == [
        "admin", "sup1", "agent2"]
    assert len(checks) == 3  # one KDF each
    assert users.authenticate("demo-agent-token") is None and len(checks) == 3  # two agents: names nobody, no KDF


def test_a_kiosk_token_comes_with_its_wallboard_link_and_endpoints_are_kept(tmp_path, capsys):
    (tmp_path / "users.yaml").write_text(users_yaml())
    assert main(["users", "token", "wall", "--config", str(tmp_path)]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert f"/wallboard#kiosk={token}" in out.err
    assert main(["users", "token", "sup", "--config", str(tmp_path)]) == 0
    users = load_users(tmp_path / "users.yaml")
    assert users.get("sup").endpoint == "PJSIP/sup" and users.authenticate(token).role.name == "KIOSK"


def test_an_endpoint_must_be_a_channel(tmp_path):
    (tmp_path / "users.yaml").write_text("users:\n  - {id: s, name: S, role: supervisor, endpoint: sup1}\n")
    with pytest.raises(ConfigError, match=r"users\[0\].endpoint: 'sup1' is not a channel"):
        load_users(tmp_path / "users.yaml")
def test_users_add_creates_the_user_with_a_token_shown_once(tmp_path, capsys):
    (tmp_path / "agents.yaml").write_text("agents:\n  - {id: agent7, name: Seven, endpoint: PJSIP/agent7}\n")
    assert main(["users", "add", "sup2", "--role", "supervisor", "--name", "Sue Visor", "--config", str(tmp_path)]) == 0
    token = capsys.readouterr().out.strip()
    users = load_users(tmp_path / "users.yaml")
    assert users.authenticate(token).role == Role.SUPERVISOR and users.get("sup2").name == "Sue Visor"
    assert token not in (tmp_path / "users.yaml").read_text()
    assert main(["users", "add", "a7", "--role", "agent", "--agent", "agent7", "--config", str(tmp_path)]) == 0
    capsys.readouterr()
    assert load_users(tmp_path / "users.yaml", {"agent7"}).get("a7").agent_id == "agent7"
    before = (tmp_path / "users.yaml").read_text()
    # refused, and the file is left as it was
    assert main(["users", "add", "sup2", "--role", "admin", "--config", str(tmp_path)]) == 1
    assert "'sup2' is already a user" in capsys.readouterr().err
    assert main(["users", "add", "a8", "--role", "agent", "--agent", "agent9", "--config", str(tmp_path)]) == 1
    assert "agent_id: 'agent9' is not in agents.yaml" in capsys.readouterr().err
    assert main(["users", "add", "a9", "--role", "agent", "--config", str(tmp_path)]) == 1
    assert "an agent user names its agent" in capsys.readouterr().err
    assert (tmp_path / "users.yaml").read_text() == before


def test_users_add_makes_a_kiosk_with_its_link_and_a_supervisor_with_a_phone(tmp_path, capsys):
    """The two users the wallboard's features need can be added from the CLI, not only by hand."""
    assert main(["users", "add", "tv1", "--role", "kiosk", "--name", "Floor TV", "--config", str(tmp_path)]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert f"/wallboard#kiosk={token}" in out.err
    assert load_users(tmp_path / "users.yaml").authenticate(token).role == Role.KIOSK
    assert main(["users", "add", "sup3", "--role", "supervisor", "--endpoint", "PJSIP/sup3", "--config", str(tmp_path)]) == 0
    capsys.readouterr()
    assert load_users(tmp_path / "users.yaml").get("sup3").endpoint == "PJSIP/sup3"
    before = (tmp_path / "users.yaml").read_text()
    assert main(["users", "add", "sup4", "--role", "supervisor", "--endpoint", "sup4", "--config", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "endpoint: 'sup4' is not a channel such as PJSIP/sup1" in err and err.count("users add") == 1
    assert (tmp_path / "users.yaml").read_text() == before


def test_users_add_and_users_token_keep_the_files_comments(tmp_path):
    """The shipped users.yaml, with its comments: adding a user and issuing a token edit only
    their own lines; the file reads back as the intended document."""
    from acd.http.users import add_user, load_users

    original = (Path(__file__).resolve().parents[2] / "config" / "users.yaml").read_text()
    path = tmp_path / "users.yaml"
    path.write_text(original)
    comments = [line for line in original.splitlines() if line.lstrip().startswith("#") or "  # " in line]
    assert comments
    token = add_user(path, "sup2", "Sue O'Visor: nights", "supervisor", endpoint="PJSIP/sup2")
    users = load_users(path)
    assert users.authenticate(token).id == "sup2" and users.get("sup2").name == "Sue O'Visor: nights"
    again = users.issue_token("agent1")
    text = path.read_text()
    assert all(c in text for c in comments)  # every comment where the admin wrote it
    assert text.startswith(original.splitlines()[0])
    fresh = load_users(path)
    assert fresh.authenticate(again).id == "agent1" and fresh.authenticate(token).id == "sup2"
    before = yaml.safe_load(original)["users"]
    after = yaml.safe_load(text)["users"]
    assert [u["id"] for u in after] == [u["id"] for u in before] + ["sup2"]
    assert [{k: v for k, v in u.items() if k != "token_hash"} for u in after[:-1]] == \
           [{k: v for k, v in u.items() if k != "token_hash"} for u in before]
    assert [u["token_hash"] for u in after if u["id"] not in ("agent1", "sup2")] == \
           [u["token_hash"] for u in before if u["id"] != "agent1"]  # nobody else's hash touched


def test_a_users_file_in_flow_style_is_rewritten_the_plain_way(tmp_path):
    from acd.http.users import add_user, load_users

    path = tmp_path / "users.yaml"
    path.write_text("users: [{id: admin, name: Ada, role: admin}]  # flow style\n")
    token = add_user(path, "wall", "Wall", "kiosk")
    assert load_users(path).authenticate(token).id == "wall"
    assert [u["id"] for u in yaml.safe_load(path.read_text())["users"]] == ["admin", "wall"]


def test_users_token_replaces_a_hash_written_before_the_id_or_on_the_items_first_line(tmp_path):
    """However an admin ordered an entry's keys, the token's hash is replaced where it is: never a
    second token_hash (a duplicate key the engine would refuse)."""
    from acd.http.users import load_users
    from acd.secrets import Secret, hash_secret

    old = hash_secret(Secret("x"), n=2**10)
    path = tmp_path / "users.yaml"
    path.write_text("# ours\nusers:\n"
                    f"  - token_hash: '{old}'  # set by hand\n    id: ann\n    name: Ann\n    role: admin\n"
                    f"  - name: Bob\n    token_hash: '{old}'\n    id: bob\n    role: supervisor\n")
    users = load_users(path)
    tokens = {who: users.issue_token(who) for who in ("ann", "bob")}
    text = path.read_text()
    assert text.startswith("# ours\n") and text.count("token_hash:") == 2 and old not in text
    fresh = load_users(path)
    assert {who: fresh.authenticate(t).id for who, t in tokens.items()} == {"ann": "ann", "bob": "bob"}
