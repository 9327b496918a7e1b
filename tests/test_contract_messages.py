"""Typed messages both ways: JSON round trips, and off-contract lines are refused in words."""

from __future__ import annotations

import json

import pytest

from texture_addon.contract import messages as msg
from texture_addon.contract import protocol


def test_every_message_and_command_round_trips_through_the_wire():
    samples = [msg.RunCommand(job="j1", spec={"kind": "synth"}), msg.CancelCommand(job="j1"), msg.PingCommand(),
               msg.ShutdownCommand(), msg.Ready(torch="2.13.0", devices=["cpu"], pid=3), msg.Fatal(message="no torch"),
               msg.Pong(busy=None), msg.Started(job="j1"),
               msg.Progress(job="j1", step=3, total=10, stage="synth", level=1, levels=3, loss=0.5, eta=2.0),
               msg.Preview(job="j1", path="/tmp/p.png", width=64, height=64),
               msg.Result(job="j1", outputs={"basecolor": "/x.png"}, seconds=1.5, seam_scores={"basecolor": 1.0}),
               msg.Error(job="j1", message="boom", error_type="InputError", errors=["a", "b"]),
               msg.Cancelled(job="j1"), msg.Bye(reason="idle")]
    for sample in samples:
        wire = protocol.decode(protocol.encode(sample.to_dict()))
        parse = msg.parse_command if "cmd" in wire else msg.parse_message
        assert parse(wire) == sample


def test_field_names_stay_the_ones_scripts_use():
    assert msg.Progress(job="j", step=1, total=2).to_dict() == {
        "type": "progress", "job": "j", "step": 1, "total": 2, "stage": "", "level": 0, "levels": 1,
        "loss": None, "eta": None}
    assert msg.RunCommand(job="j", spec={}).to_dict() == {"cmd": "run", "job": "j", "spec": {}}
    assert "errors" not in msg.Error(job="j", message="m").to_dict()


@pytest.mark.parametrize("data, error", [
    ({"type": "progress", "job": "j", "total": 3}, "type 'progress': 'step' is missing"),
    ({"type": "progress", "job": "j", "step": "3", "total": 3}, "'step' must be a whole number, got '3'"),
    ({"type": "result", "job": "j", "outputs": []}, "'outputs' must be an object"),
    ({"type": "preview", "job": 7, "path": "/p"}, "'job' must be a string, got 7"),
    ({"type": "telepathy"}, "unknown message type='telepathy'"),
    ([1, 2], "must be a JSON object, got list"),
])
def test_off_contract_messages_are_refused_precisely(data, error):
    with pytest.raises(msg.MessageError, match=error.replace("(", r"\(").replace("[", r"\[")):
        msg.parse_message(data)


def test_commands_are_checked_too():
    with pytest.raises(msg.MessageError, match="cmd 'cancel': 'job' is missing"):
        msg.parse_command({"cmd": "cancel"})
    with pytest.raises(msg.MessageError, match=r"unknown command cmd='dance' \(known: cancel, ping, run, shutdown\)"):
        msg.parse_command({"cmd": "dance"})


def test_whole_numbers_are_accepted_where_numbers_are_expected():
    parsed = msg.parse_message(json.loads('{"type": "result", "job": "j", "outputs": {}, "seconds": 2}'))
    assert parsed.seconds == 2.0 and isinstance(parsed.seconds, float)
    with pytest.raises(msg.MessageError, match="'seconds' must be a number, got True"):
        msg.parse_message({"type": "result", "job": "j", "outputs": {}, "seconds": True})


@pytest.mark.parametrize("job", ["../escape", "a/b", "", "x" * 65, "j\n", "..", "a b"])
def test_job_ids_that_could_name_a_path_are_refused(job):
    """The engine names previews and logs after the job id: ``../`` used to escape their folder."""
    for cmd in ({"cmd": "run", "job": job, "spec": {}}, {"cmd": "cancel", "job": job}):
        with pytest.raises(msg.MessageError, match="'job' must be 1-64 letters, digits"):
            msg.parse_command(cmd)


def test_client_job_ids_are_accepted():
    import uuid

    for job in ("j1", uuid.uuid4().hex[:12], "A-b_9" * 12):
        assert msg.parse_command({"cmd": "cancel", "job": job}).job == job
