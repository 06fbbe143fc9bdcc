"""Process identity across containers: owners of claims and temporary files carry a per-run
id and the machine (boot id + PID namespace), not just ``hostname-pid``."""

from __future__ import annotations

import os
import socket
import time

import faultplug
from relhelpers import suite_text

from benchbase.plugin.manager import Host
from benchbase.run import owner
from benchbase.run.runner import Runner
from benchbase.run.store import Store
from benchbase.run.suites import suite_from_toml


def test_a_run_with_the_same_hostname_and_pid_in_another_container_keeps_its_claims(tmp_path):
    # two containers with host networking: same hostname, both PID 1 (here: our own pid)
    twin = owner.Owner(socket.gethostname(), os.getpid(), "c0ffee00", "theirrun")
    store = Store(tmp_path)
    store.conn.execute(
        "INSERT INTO claims VALUES (?, ?, ?, ?, ?)",
        ("cell", twin.token, twin.host, twin.pid, time.time() + 60),
    )
    assert not store.claims.claim("cell"), "a same-named process elsewhere took over a live claim"
    assert store.conn.execute("SELECT owner FROM claims").fetchone() == (twin.token,)
    store.close()


def test_owner_tokens_are_unique_per_run_and_parse_back():
    me = owner.me()
    assert owner.parse(me.token) == me and owner.alive(me) is True
    assert owner.parse("old-host-12") == owner.Owner("old-host", 12, "", "")  # legacy: lease only
    assert owner.alive(owner.parse("old-host-12")) is None
    other = owner.Owner(me.host, me.pid, me.machine, "anotherrun")
    assert other.token != me.token  # same process numbers, another run: never confused


def test_a_run_resumed_under_a_new_hostname_says_what_it_waits_for_then_takes_over(
    tmp_path, suite_file, capsys
):
    host = Host(extra_plugins=(faultplug,), entry_points=False)
    suite = suite_from_toml(suite_file(suite_text(1)))
    runner = Runner(host, suite, tmp_path / "out", device="cpu", batch_size=4)
    runner.poll_seconds = 0.1
    _, fps, _ = runner.plan()
    gone = owner.Owner("old-hostname", 1, "deadbeef", "killedrun")  # the container before
    lapses = time.time() + 600
    store = Store(tmp_path / "out")
    for fp in fps.values():
        store.conn.execute(
            "INSERT INTO claims VALUES (?, ?, ?, ?, ?)", (fp, gone.token, gone.host, 1, lapses)
        )
    store.close()
    say = runner._say_waiting

    def then_lapse(store: Store, *args: object) -> str:  # the event: the run says it waits
        said = say(store, *args)
        store.conn.execute("UPDATE claims SET expires = 0 WHERE owner = ?", (gone.token,))
        return said

    runner._say_waiting = then_lapse
    summary = runner.run()
    assert summary.done == len(fps) == 2  # taken over once the lease lapsed
    err = capsys.readouterr().err
    assert f"waiting for {len(fps)} cell(s) that another run is computing" in err
    assert "held by run killedrun (pid 1 on host old-hostname, machine deadbeef)" in err
    assert f"lease until {time.strftime('%H:%M:%S', time.localtime(lapses))}" in err
