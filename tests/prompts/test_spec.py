"""Prompts as written on the command line and in files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vidseg.errors import PromptError
from vidseg.prompts.commands import PromptCommand
from vidseg.prompts.spec import load_prompt_file, parse_cli_prompts
from vidseg.types import Frame


def test_points_and_box_of_one_moment_form_one_prompt(tmp_path):
    Image.fromarray(np.pad(np.full((4, 4), 255, np.uint8), 2)).save(tmp_path / "m.png")
    prompts = parse_cli_prompts(
        points=["10,20", "1:30,40,0", "2:5,6@12", "2:7,8,1@2.5s"],
        boxes=["1:1,2,50,60"],
        masks=[f"3:{tmp_path / 'm.png'}@4"],
    )
    by_id = {(p.prompt.obj_id, p.frame, p.time): p for p in prompts}
    first = by_id[(1, None, None)].prompt
    assert first.points == ((10.0, 20.0), (30.0, 40.0)) and first.labels == (1, 0) and first.box == (1, 2, 50, 60)
    assert by_id[(2, 12, None)].prompt.points == ((5.0, 6.0),)
    assert by_id[(2, None, 2.5)].prompt.labels == (1,)
    mask = by_id[(3, 4, None)].prompt.mask
    assert mask is not None and mask.sum() == 16


@pytest.mark.parametrize(
    "points",
    [["10"], ["a,b"], ["1,2,3,4"], ["x:1,2"], ["1,2@abc"]],
    ids=["one", "letters", "four", "bad-id", "bad-when"],
)
def test_bad_point_specs(points):
    with pytest.raises(PromptError):
        parse_cli_prompts(points=points)


def test_two_boxes_same_moment():
    with pytest.raises(PromptError, match="two boxes"):
        parse_cli_prompts(boxes=["1,1,5,5", "2,2,6,6"])


def test_due_by_frame_and_time():
    (by_frame,) = parse_cli_prompts(points=["1,1@3"])
    (by_time,) = parse_cli_prompts(points=["1,1@0.5s"])
    frame = Frame(np.zeros((2, 2, 3), np.uint8), index=3, time=0.4)
    assert (by_frame.frame, by_frame.time, by_time.frame, by_time.time) == (3, None, None, 0.5)
    when_frame, when_time = (PromptCommand.scheduled(p).when for p in (by_frame, by_time))
    assert when_frame.due(frame) and not when_time.due(frame)


def test_prompt_file(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"id": 4, "points": [[1, 2]], "frame": 2}, {"box": [0, 0, 5, 5], "time": 1.0}]))
    prompts = load_prompt_file(path)
    assert prompts[0].prompt.obj_id == 4 and prompts[0].frame == 2
    assert prompts[1].prompt.box == (0, 0, 5, 5) and prompts[1].time == 1.0
    (tmp_path / "bad.yaml").write_text("- {id: 1, pints: [[1, 2]]}\n")
    with pytest.raises(PromptError, match="unknown keys"):
        load_prompt_file(tmp_path / "bad.yaml")


def test_prompts_from_a_file_carry_their_own_origin(tmp_path):
    from vidseg.pipeline.config import JobConfig
    from vidseg.pipeline.job import _commands
    from vidseg.prompts.commands import Origin

    file = tmp_path / "p.json"
    file.write_text(json.dumps([{"id": 2, "points": [[3, 4]]}]))
    prompts = (*parse_cli_prompts(points=["1:5,5"]), *load_prompt_file(file))
    commands = _commands(JobConfig(source="x.mp4", out=tmp_path / "o", prompts=prompts))
    assert [(c.obj_id, c.origin) for c in commands] == [(1, Origin.COMMAND_LINE), (2, Origin.FILE)]
