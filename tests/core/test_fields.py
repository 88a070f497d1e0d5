"""Every stage config, held to the same rules: fields made by `setting`, choices declared once, front ends generated.

Parametrized over all config dataclasses, so a new field (or a new config) that breaks a rule fails here:
defaults construct, ``asdict`` round-trips, every field has a label and help, a value outside a ``Literal``'s
choices is refused naming the field, and the CLI flags and the tab's widgets cover the fields they expose.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing

import pytest

from discord_echo.core.errors import ConfigError
from discord_echo.core.fields import check_choices, field_choices, field_kind, literal_choices, setting
from discord_echo.dataset.cleaning import CleaningConfig
from discord_echo.dataset.conversations import ConversationConfig
from discord_echo.dataset.pipeline import BuildConfig
from discord_echo.dataset.privacy.scrubber import PrivacyConfig
from discord_echo.dataset.samples import DEFAULT_CUTOFF_LEN, DatasetConfig
from discord_echo.evaluate.comparer import CompareConfig
from discord_echo.frontends.cli import BUILD_FIELDS, build_parser
from discord_echo.ingest.config import ReadConfig
from discord_echo.train.config import BITSANDBYTES_OPTIMIZERS, Optimizer, TrainConfig

# One config dataclass per stage; BuildConfig carries the five dataset-building ones together.
STAGE_CONFIGS = [
    ReadConfig,
    CleaningConfig,
    PrivacyConfig,
    ConversationConfig,
    DatasetConfig,
    TrainConfig,
    CompareConfig,
]
ALL_CONFIGS = [*STAGE_CONFIGS, BuildConfig]
CHOICE_FIELDS = [(cls, f.name) for cls in STAGE_CONFIGS for f in dataclasses.fields(cls) if field_choices(cls, f.name)]


def _ids(params) -> list[str]:
    return [f"{cls.__name__}.{name}" for cls, name in params]


def _rebuild(cls: type, data: dict):
    """``cls`` from its ``asdict`` output, nested configs included."""
    hints = typing.get_type_hints(cls)
    return cls(
        **{
            name: _rebuild(hints[name], value) if dataclasses.is_dataclass(hints[name]) else value
            for name, value in data.items()
        }
    )


@pytest.mark.parametrize("cls", ALL_CONFIGS, ids=lambda cls: cls.__name__)
def test_defaults_construct_and_asdict_round_trips(cls):
    config = cls()
    assert _rebuild(cls, dataclasses.asdict(config)) == config


@pytest.mark.parametrize("cls", ALL_CONFIGS, ids=lambda cls: cls.__name__)
def test_every_field_has_a_label_and_help(cls):
    for f in dataclasses.fields(cls):
        assert isinstance(f.metadata.get("label"), str) and f.metadata["label"].strip(), f.name
        assert isinstance(f.metadata.get("help"), str) and f.metadata["help"].strip(), f.name


def test_build_settings_carries_one_of_each_dataset_stage_config():
    hints = typing.get_type_hints(BuildConfig)
    assert [hints[f.name] for f in dataclasses.fields(BuildConfig)] == [
        ReadConfig,
        CleaningConfig,
        PrivacyConfig,
        ConversationConfig,
        DatasetConfig,
    ]


def test_there_are_choice_fields_to_check():
    assert {name for _, name in CHOICE_FIELDS} >= {
        "attachments",
        "url_mode",
        "name_prefix",
        "lr_scheduler",
        "optimizer",
        "quant_type",
        "compute_dtype",
    }


@pytest.mark.parametrize(("cls", "name"), CHOICE_FIELDS, ids=_ids(CHOICE_FIELDS))
def test_a_bad_choice_is_refused_naming_the_field(cls, name):
    with pytest.raises(ConfigError, match=rf"^{name}='bogus': must be ") as caught:
        cls(**{name: "bogus"})
    assert caught.value.field == name
    for choice in field_choices(cls, name):
        assert str(choice) in caught.value.rule
        assert getattr(cls(**{name: choice}), name) == choice


def test_literal_choices_read_through_optional_and_ignore_other_types():
    assert literal_choices(typing.Literal["a", "b"]) == ("a", "b")
    assert literal_choices(typing.Optional[typing.Literal["a", "b"]]) == ("a", "b")  # noqa: UP045
    assert literal_choices(str) == ()
    assert literal_choices(str | tuple[str, ...]) == ()


def test_field_kind_reads_the_annotation_not_the_default():
    assert field_kind(ReadConfig, "day_first") == ("bool", ())  # bool | None, default None
    assert field_kind(TrainConfig, "epochs") == ("float", ())
    assert field_kind(TrainConfig, "lora_rank") == ("int", ())
    assert field_kind(TrainConfig, "target_modules") == ("str", ())  # str | tuple: text, parsed by the config
    assert field_kind(CleaningConfig, "include_channels") == ("list", ())
    assert field_kind(TrainConfig, "quant_type") == ("choice", ("nf4", "fp4"))


def test_check_choices_lets_none_through_only_for_an_optional_choice():
    @dataclasses.dataclass
    class Picky:
        required: typing.Literal["x", "y"] = setting("x", "Required", "One of x or y.")
        optional: typing.Literal["x", "y"] | None = setting(None, "Optional", "x, y or nothing.")

    check_choices(Picky())
    check_choices(Picky(optional="y"))
    with pytest.raises(ConfigError, match=r"^optional='z': must be one of x, y$"):
        check_choices(Picky(optional="z"))
    with pytest.raises(ConfigError, match=r"^required=None: must be one of x, y$"):
        check_choices(Picky(required=None))


def test_setting_requires_a_label_help_and_one_default():
    made = setting(3, "Label", "Help.")
    assert (made.default, dict(made.metadata)) == (3, {"label": "Label", "help": "Help."})
    assert setting(label="L", help="H.", default_factory=list).default_factory is list
    for bad in (
        lambda: setting(3, "", "Help."),
        lambda: setting(3, "Label", " "),
        lambda: setting(label="L", help="H."),
        lambda: setting(3, "L", "H.", default_factory=list),
    ):
        with pytest.raises(TypeError):
            bad()


def test_bitsandbytes_optimizers_are_optimizer_choices():
    assert set(BITSANDBYTES_OPTIMIZERS) < set(typing.get_args(Optimizer))


def test_the_cutoff_default_is_one_value_for_samples_and_training():
    assert DatasetConfig().cutoff_len == TrainConfig().cutoff_len == DEFAULT_CUTOFF_LEN


# -- the command line


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _exposed() -> list[tuple[str, type, str, bool]]:
    """(command, config, field, flag keeps the field's default) for every field a command takes as a flag."""
    every = [f.name for f in dataclasses.fields(ReadConfig)]
    rows = [(command, ReadConfig, name, True) for command in ("inspect", "build", "app") for name in every]
    # build's sample flags default to None: unless given, the chosen profile's cutoff and the config's defaults apply.
    rows += [("build", cls, name, cls is not DatasetConfig) for cls, names in BUILD_FIELDS.items() for name in names]
    rows += [("train", TrainConfig, f.name, False) for f in dataclasses.fields(TrainConfig)]
    return rows


EXPOSED = _exposed()


@pytest.mark.parametrize(
    ("command", "cls", "name", "keeps_default"),
    EXPOSED,
    ids=[f"{command}-{cls.__name__}.{name}" for command, cls, name, _ in EXPOSED],
)
def test_cli_flags_cover_every_field_a_command_exposes(command, cls, name, keeps_default):
    actions = {a.dest: a for a in _commands()[command]._actions}
    assert name in actions, f"{command} has no flag for {cls.__name__}.{name}"
    action = actions[name]
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    assert f"--{name.replace('_', '-')}" in action.option_strings
    assert action.help.replace("%%", "%").startswith(field.metadata["help"])
    assert action.default == (field.default if keeps_default else None)
    choices = field_choices(cls, name)
    assert (list(action.choices) if action.choices else []) == list(choices)


def test_train_refuses_a_bad_scheduler_listing_the_choices(capsys):
    argv = ["train", "--model", "m", "--dataset", "d", "--user-data", "u", "--lora", "l"]
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*argv, "--scheduler", "bogus"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'bogus'" in err
    assert all(f"'{choice}'" in err for choice in field_choices(TrainConfig, "lr_scheduler"))
    assert build_parser().parse_args([*argv, "--scheduler", "linear"]).lr_scheduler == "linear"


def test_train_help_prints_percent_signs_not_an_argparse_dict(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["train", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "~25%" in out
    assert "{'" not in out


def test_read_flags_build_the_read_config():
    from discord_echo.frontends.cli import _read_config

    args = build_parser().parse_args(
        ["inspect", "x.json", "--timezone", "Europe/Berlin", "--day-first", "--max-file-mb", "10"]
    )
    assert _read_config(args) == ReadConfig(timezone="Europe/Berlin", day_first=True, max_file_mb=10)
    assert _read_config(build_parser().parse_args(["inspect", "x.json"])) == ReadConfig()


# -- the tab's forms


@pytest.mark.parametrize("cls", STAGE_CONFIGS, ids=lambda cls: cls.__name__)
def test_form_widgets_cover_every_field(cls):
    gr = pytest.importorskip("gradio")
    from discord_echo.frontends.ui.forms import widgets_for

    with gr.Blocks():
        widgets = widgets_for(cls, "t")
    assert list(widgets) == [f.name for f in dataclasses.fields(cls) if f.init]
    for f in dataclasses.fields(cls):
        widget = widgets[f.name]
        assert (widget.label, widget.info) == (f.metadata["label"], f.metadata["help"])
        assert widget.elem_id == f"t-{f.name.replace('_', '-')}"
        choices = field_choices(cls, f.name)
        if choices:
            assert [c[1] if isinstance(c, tuple) else c for c in widget.choices] == list(choices)


@pytest.mark.parametrize(
    "cls",
    [CleaningConfig, PrivacyConfig, ConversationConfig, DatasetConfig, TrainConfig, CompareConfig],
    ids=lambda cls: cls.__name__,
)
def test_form_values_build_the_default_config_back(cls):
    """Every config the tab edits (ReadConfig is not one: its tri-state day_first has no widget)."""
    gr = pytest.importorskip("gradio")
    from discord_echo.frontends.ui.forms import config_from, widgets_for

    with gr.Blocks():
        widgets = widgets_for(cls, "t")
    assert config_from(cls, {name: widget.value for name, widget in widgets.items()}) == cls()
